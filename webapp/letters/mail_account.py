"""A supporter's mail account, checked before anything is counted or written: the host, paused sign-ins."""

from __future__ import annotations

import logging

from flask import current_app

from webapp.delivery import budget, credentials, oauth, ssrf
from webapp.delivery.credentials import Account, OAuthAccount, SmtpAccount
from webapp.delivery.deadline import DeadlineExceeded
from webapp.i18n import gettext
from webapp.mailauth import providers
from webapp.mailauth.providers import MICROSOFT, PROVIDERS
from webapp.models import Letter, Submission
from webapp.security import limits

log = logging.getLogger(__name__)


def check_smtp_host(host: str, port: int) -> None:
    """Refuse a host the SSRF policy would refuse (RefusedHost), now, so the supporter can fix it on the form. A
    lookup that outlasts ssrf.LOOKUP_SECONDS (DNS down or slow) refuses nothing: the worker checks the host again
    within its own deadline and says so if it still can't, and the supporter's letter is not lost meanwhile."""
    config = current_app.config
    try:
        ssrf.check(host, port, config["SMTP_ALLOWED_HOSTS"], tuple(config["SMTP_ALLOWED_PORTS"]))
    except DeadlineExceeded:
        log.warning("smtp_host.lookup_too_long_at_intake")


def unavailable() -> str:
    """Why own-email sending stopped when the Redis that keeps passwords and sign-ins (CREDENTIALS_REDIS_URL) is
    unreachable or refused (the pages and the API say the same): our side, briefly; nothing the supporter typed is
    wrong or lost."""
    return gettext(
        "Sending from your own mail account is briefly unavailable on our side, so nothing was sent. Everything "
        "you wrote is still here: please try again in a minute, or choose another way to send it."
    )


class SignInsPaused(limits.RateLimited):
    """Workers have stopped offering passwords to this mail server, or to this account, for now (too many refused
    sign-ins: webapp/delivery/budget.py): a 429 that says so at once, instead of a letter that would only wait.
    `field` is the form field it is about (smtp_host or smtp_username)."""

    def __init__(self, retry_after_seconds: int, message: str, field: str):
        super().__init__(retry_after_seconds, message)
        self.field = field


def check_sign_ins(account: Account | None) -> None:
    """Refuse a password for a mail server or account whose budget of refused sign-ins is spent (SignInsPaused)."""
    if not isinstance(account, SmtpAccount):
        return
    host = ssrf.normalize_host(account.host)
    pause = budget.paused(host, account.username)
    if pause is None:
        return
    wait = limits.in_words(pause.seconds)
    if pause.scope == budget.HOST:
        raise SignInsPaused(
            pause.seconds,
            gettext(
                "Too many sign-ins to %(host)s through Outcry failed recently, so we've paused sending from there "
                "for now (it protects people whose passwords were stolen). Please try again in %(wait)s; your letter "
                "is kept here meanwhile.",
                host=host,
                wait=wait,
            ),
            "smtp_host",
        )
    raise SignInsPaused(
        pause.seconds,
        gettext(
            "Your mail server refused the password for %(username)s several times recently, so we've paused signing "
            "in to that account for now (so nobody can guess its password through Outcry). Check your password "
            "(Gmail, Yahoo and iCloud need an app password) and try again in %(wait)s.",
            username=account.username,
            wait=wait,
        ),
        "smtp_username",
    )


def check_account(account: Account) -> None:
    """What every path that takes a supporter's mail account checks before anything is counted or written (a new
    submission, the form's or the API's, and sending failed letters again): the mail server is one Outcry may
    connect to (RefusedHost), its sign-ins are not paused (SignInsPaused), and the password could be stored now
    where nothing reaches a disk (a RedisError)."""
    if isinstance(account, SmtpAccount):
        check_smtp_host(account.host, account.port)
    check_sign_ins(account)
    credentials.check_store()


def origin(account: Account | None) -> str | None:
    """What a submission records about where its letters leave from: the mail server, or the sign-in."""
    if isinstance(account, OAuthAccount):
        return f"{oauth.SIGNED_IN_PREFIX}{account.provider}"
    return account.host if account else None


def signed_in_with(submission: Submission) -> str | None:
    """ "google" or "microsoft" when the submission was sent with a sign-in, else None."""
    return oauth.signed_in_provider(submission.smtp_host)


def sign_in_instead(submission: Submission, failed: list[Letter]) -> str | None:
    """The provider to offer signing in with ("google" or "microsoft"), for letters whose password was refused:
    Microsoft when it said it takes no passwords for the account (5.7.139), else the provider of the address or
    of the mail server when it has a sign-in. None when neither applies; the caller checks it is configured."""
    kinds = {letter.failure_kind for letter in failed}
    if "no_passwords" in kinds:
        return MICROSOFT
    if "auth" not in kinds or signed_in_with(submission):
        return None
    by_host = next((p for p in PROVIDERS if p.host and p.host == (submission.smtp_host or "").lower()), None)
    provider = providers.detect(submission.supporter_email or "", mx=False).provider or by_host
    return provider.oauth if provider else None
