"""Mail providers: their sending settings and current help, and which one hosts a supporter's address (its
domain, or for a custom domain the provider behind its MX records).

The facts here were checked against each provider's own help pages when they were written (see README,
"Own-email sending: what was verified"); they are data, kept in one table, so that a change at a provider is
one line to fix.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from webapp.i18n import gettext
from webapp.i18n.reasons import N_

log = logging.getLogger(__name__)

GOOGLE, MICROSOFT = "google", "microsoft"


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    host: str | None  # None: the provider lets no other app send (hand-offs only)
    port: int
    security: str  # starttls | ssl
    help: str  # one or two whole sentences: what the supporter must do first (English; a catalog message)
    oauth: str | None = None  # GOOGLE or MICROSOFT: "Send with …" is the way when the operator configured it
    # The help where this site has no sign-in with `oauth` (it must not send the supporter to a button that isn't
    # there); "" when `help` says nothing of signing in.
    help_without_sign_in: str = ""
    domains: tuple[str, ...] = field(default=(), repr=False)
    # Host name endings of the provider's MX records, for addresses at custom domains it hosts.
    mx: tuple[str, ...] = field(default=(), repr=False)
    # Shown instead of the password fields when the address belongs to an OAuth provider and the operator
    # has configured no client for it: passwords can't work there.
    password_works: bool = True

    def shown_help(self, sign_in: Iterable[str]) -> str:
        """The help in the reader's language (the providers' own menu names stay as they show them), for a site
        that can sign in with the providers in `sign_in` (mailauth.service.clients())."""
        offered = self.oauth in sign_in or not self.help_without_sign_in
        return gettext(self.help if offered else self.help_without_sign_in)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "gmail",
        "Gmail or Google Workspace",
        "smtp.gmail.com",
        587,
        "starttls",
        N_(
            "Gmail takes an app password, not your usual password, and only after you turn on 2-Step Verification: "
            "Google Account → Security → 2-Step Verification, then App passwords. Signing in with Google is easier."
        ),
        oauth=GOOGLE,
        help_without_sign_in=N_(
            "Gmail takes an app password, not your usual password, and only after you turn on 2-Step Verification: "
            "Google Account → Security → 2-Step Verification, then App passwords."
        ),
        domains=("gmail.com", "googlemail.com"),
        mx=("google.com", "googlemail.com"),
    ),
    Provider(
        "outlook",
        "Outlook.com, Hotmail, Live or MSN",
        "smtp-mail.outlook.com",
        587,
        "starttls",
        N_(
            "Since 16 September 2024, Outlook.com, Hotmail, Live and MSN accounts refuse passwords from other apps, "
            "app passwords included. Sign in with Microsoft instead, or open the letter in your mail app."
        ),
        oauth=MICROSOFT,
        help_without_sign_in=N_(
            "Since 16 September 2024, Outlook.com, Hotmail, Live and MSN accounts refuse passwords from other apps, "
            "app passwords included. Open the letter in your mail app instead."
        ),
        domains=(
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "passport.com",
            "outlook.co.uk",
            "hotmail.co.uk",
            "live.co.uk",
            "outlook.fr",
            "hotmail.fr",
            "live.fr",
            "outlook.de",
            "hotmail.de",
            "live.de",
            "outlook.es",
            "hotmail.es",
            "outlook.it",
            "hotmail.it",
            "live.it",
            "live.ca",
            "hotmail.ca",
            "outlook.com.au",
            "live.com.au",
            "outlook.jp",
            "hotmail.co.jp",
            "live.jp",
            "outlook.com.br",
            "hotmail.com.br",
            "live.nl",
            "hotmail.nl",
            "outlook.in",
            "live.in",
        ),
        password_works=False,
    ),
    Provider(
        "microsoft365",
        "Microsoft 365 (work or school)",
        "smtp.office365.com",
        587,
        "starttls",
        N_(
            "Microsoft is retiring password sign-in for sending from Microsoft 365 mailboxes, and many organizations "
            "have already turned it off. Sign in with Microsoft instead; if that is refused, ask your IT team."
        ),
        oauth=MICROSOFT,
        help_without_sign_in=N_(
            "Microsoft is retiring password sign-in for sending from Microsoft 365 mailboxes, and many organizations "
            "have already turned it off. If your password is refused, ask your IT team, or open the letter in your "
            "mail app instead."
        ),
        mx=("mail.protection.outlook.com", "mx.microsoft"),
    ),
    Provider(
        "yahoo",
        "Yahoo Mail",
        "smtp.mail.yahoo.com",
        465,
        "ssl",
        N_(
            "Yahoo takes an app password, not your usual password: Yahoo Account → Account security → "
            "Generate app password (turn on two-step verification first if Yahoo asks)."
        ),
        domains=(
            "yahoo.com",
            "ymail.com",
            "rocketmail.com",
            "yahoo.co.uk",
            "yahoo.fr",
            "yahoo.de",
            "yahoo.es",
            "yahoo.it",
            "yahoo.ca",
            "yahoo.com.au",
            "yahoo.co.in",
            "yahoo.co.jp",
            "yahoo.com.br",
            "yahoo.com.mx",
        ),
    ),
    Provider(
        "aol",
        "AOL Mail",
        "smtp.aol.com",
        465,
        "ssl",
        N_(
            "AOL takes an app password, not your usual password: AOL Account → Account security → Generate app password."
        ),
        domains=("aol.com", "aim.com", "aol.co.uk", "aol.fr", "aol.de"),
    ),
    Provider(
        "icloud",
        "iCloud Mail",
        "smtp.mail.me.com",
        587,
        "starttls",
        N_(
            "iCloud takes an app-specific password, which needs two-factor authentication: account.apple.com → "
            "Sign-In and Security → App-Specific Passwords. Use your iCloud email address as the user name."
        ),
        domains=("icloud.com", "me.com", "mac.com"),
        mx=("mail.icloud.com",),
    ),
    Provider(
        "fastmail",
        "Fastmail",
        "smtp.fastmail.com",
        465,
        "ssl",
        N_(
            "Fastmail takes an app password, not your usual password: Settings → Privacy & Security → "
            "App passwords → New app password, with access to SMTP."
        ),
        domains=("fastmail.com", "fastmail.fm", "fastmail.net", "fastmail.org", "messagingengine.com"),
        mx=("messagingengine.com",),
    ),
    Provider(
        "gmx",
        "GMX (gmx.com)",
        "mail.gmx.com",
        587,
        "starttls",
        N_(
            "GMX sends from other apps only once you allow it: in GMX, Settings → POP3 & IMAP → allow access. "
            "Then use your GMX address and password (an app-specific password if you use two-factor authentication)."
        ),
        domains=("gmx.com", "gmx.us", "gmx.co.uk", "gmx.fr", "gmx.es"),
    ),
    Provider(
        "gmx_de",
        "GMX (gmx.net, gmx.de)",
        "mail.gmx.net",
        587,
        "starttls",
        N_(
            "GMX sends from other apps only once you allow it: in GMX, E-Mail-Einstellungen → POP3/IMAP Abruf → "
            "allow access. Then use your GMX address and password (an app-specific password with two-factor "
            "authentication)."
        ),
        domains=("gmx.net", "gmx.de", "gmx.at", "gmx.ch"),
        mx=("gmx.net",),
    ),
    Provider(
        "webde",
        "WEB.DE",
        "smtp.web.de",
        587,
        "starttls",
        N_(
            "WEB.DE sends from other apps only once you allow it: in WEB.DE, Einstellungen → POP3/IMAP Abruf → "
            "allow access. Then use your WEB.DE address and password."
        ),
        domains=("web.de",),
        mx=("web.de",),
    ),
    Provider(
        "zoho",
        "Zoho Mail",
        "smtp.zoho.com",
        465,
        "ssl",
        N_(
            "Zoho takes your password, or an app-specific password if you use two-factor authentication: "
            "Zoho Accounts → Security → App Passwords. Accounts in Europe use smtp.zoho.eu (choose Other)."
        ),
        domains=("zoho.com", "zohomail.com"),
        mx=("zoho.com",),
    ),
    Provider(
        "proton",
        "Proton Mail",
        None,
        587,
        "starttls",
        N_(
            "Proton Mail lets other apps send only through Proton Mail Bridge on your own computer, so we can't "
            "send from it. Open the letter in your mail app instead."
        ),
        domains=("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
        mx=("protonmail.ch",),
        password_works=False,
    ),
)

BY_KEY = {provider.key: provider for provider in PROVIDERS}
_BY_DOMAIN = {domain: provider for provider in PROVIDERS for domain in provider.domains}


@dataclass(frozen=True)
class Detected:
    """Which provider hosts an address, and how we know: `domain` (a provider's own domain, like gmail.com)
    or `mx` (a custom domain whose mail servers are the provider's)."""

    provider: Provider | None
    how: str | None = None  # "domain" | "mx" | None

    @property
    def key(self) -> str:
        return self.provider.key if self.provider else ""


# ---- MX records: the one seam tests replace (nothing else here touches the network) ----

MX_LIFETIME = 2.0  # seconds for the whole lookup: a slow resolver must not hold the send step


def resolve_mx(domain: str) -> list[str]:
    """The host names of `domain`'s MX records, lower case, without the final dot; [] when there are none or
    DNS does not answer in time. Tests replace this function (providers.resolve_mx = …)."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(domain, "MX", lifetime=MX_LIFETIME, search=False)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        log.info("providers.mx_lookup_failed error=%s", type(exc).__name__)
        return []
    return [str(record.exchange).rstrip(".").lower() for record in sorted(answer, key=lambda r: r.preference)]


_MX_CACHE_SECONDS = 3600


@functools.lru_cache(maxsize=2048)
def _mx_provider(domain: str, _hour: int) -> Provider | None:
    """The provider behind a custom domain's MX records, cached per domain for about an hour."""
    for exchange in resolve_mx(domain):
        for provider in PROVIDERS:
            if any(exchange == suffix or exchange.endswith("." + suffix) for suffix in provider.mx):
                return provider
    return None


def detect(email: str, *, mx: bool = True) -> Detected:
    """The provider that hosts `email`: by its domain, else (with `mx`) by the domain's MX records (one bounded
    DNS lookup, cached), else none (the supporter chooses Other and types their server)."""
    domain = email.rpartition("@")[2].strip().rstrip(".").lower()
    if not domain or "." not in domain:
        return Detected(None)
    provider = _BY_DOMAIN.get(domain)
    if provider is not None:
        return Detected(provider, "domain")
    if not mx:
        return Detected(None)
    provider = _mx_provider(domain, int(time.time() // _MX_CACHE_SECONDS))
    return Detected(provider, "mx" if provider else None)


def forget_mx_cache() -> None:
    """For tests: the next detect() asks resolve_mx again."""
    _mx_provider.cache_clear()
