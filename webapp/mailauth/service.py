"""Signing in with Google or Microsoft to send: the authorization code flow with PKCE (S256), `state` and an
OpenID Connect `nonce`, through Authlib's OAuth 2.0 client, asking for the narrowest scopes that can send.

    start()  → a one-time sign-in record, encrypted in Redis for OAUTH_SIGN_IN_TTL seconds (state, the PKCE
               verifier, the nonce, and what the supporter was doing), and the provider's consent address
    finish() → the record taken (once), `state` compared, the code exchanged with its verifier over the
               checked, verified-TLS, deadline-bound HTTPS client, the granted scopes and the ID token's
               audience, issuer, subject, expiry and nonce checked → an OAuthAccount (an access token, never a
               refresh token: none is asked for)

The access token is a password: it goes only to credentials.store(), never into a log line, an error
message, the database or a task argument.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from webapp.core import keys, validation
from webapp.delivery import credentials, https
from webapp.delivery.credentials import OAuthAccount
from webapp.extensions import get_credentials_redis
from webapp.i18n import gettext
from webapp.i18n.reasons import N_
from webapp.mailauth.providers import GOOGLE, MICROSOFT
from webapp.security.limits import pseudonym

log = logging.getLogger(__name__)

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GRAPH_MAIL_SEND = "https://graph.microsoft.com/Mail.Send"
OUTLOOK_SMTP_SEND = "https://outlook.office.com/SMTP.Send"


@dataclass(frozen=True)
class Client:
    """One configured provider: where its consent page and token endpoint are, and what we ask for."""

    key: str  # google | microsoft
    label: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    send_scope: str
    send_with: str  # gmail_api | graph | smtp
    issuers: tuple[str, ...]  # accepted ID-token issuers ("{tenantid}" stands for any tenant's id)


def clients() -> dict[str, Client]:
    """The providers this site has OAuth clients for (both id and secret set), by key."""
    config = current_app.config
    found: dict[str, Client] = {}
    if config.get("GOOGLE_CLIENT_ID") and config.get("GOOGLE_CLIENT_SECRET"):
        found[GOOGLE] = Client(
            key=GOOGLE,
            label="Google",
            client_id=config["GOOGLE_CLIENT_ID"],
            client_secret=config["GOOGLE_CLIENT_SECRET"],
            authorize_url=f"{config['GOOGLE_ACCOUNTS_URL']}/o/oauth2/v2/auth",
            token_url=f"{config['GOOGLE_OAUTH2_URL']}/token",
            # openid + email: who is signing in (so the letter's From is their address); gmail.send: sending only.
            scopes=("openid", "email", GMAIL_SEND),
            send_scope=GMAIL_SEND,
            send_with="gmail_api",
            issuers=("https://accounts.google.com", "accounts.google.com", config["GOOGLE_ACCOUNTS_URL"]),
        )
    if config.get("MICROSOFT_CLIENT_ID") and config.get("MICROSOFT_CLIENT_SECRET"):
        tenant, base = config["MICROSOFT_TENANT"], config["MICROSOFT_LOGIN_URL"]
        smtp = config["MICROSOFT_SEND_WITH"] == "smtp"
        send_scope = OUTLOOK_SMTP_SEND if smtp else GRAPH_MAIL_SEND
        found[MICROSOFT] = Client(
            key=MICROSOFT,
            label="Microsoft",
            client_id=config["MICROSOFT_CLIENT_ID"],
            client_secret=config["MICROSOFT_CLIENT_SECRET"],
            authorize_url=f"{base}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"{base}/{tenant}/oauth2/v2.0/token",
            scopes=("openid", "email", send_scope),
            send_scope=send_scope,
            send_with="smtp" if smtp else "graph",
            issuers=(f"{base}/{{tenantid}}/v2.0",),
        )
    return found


def consent_origins() -> tuple[str, ...]:
    """The origins of the configured providers' consent pages (where a send or retry form's answer redirects)."""
    origins = []
    for client in clients().values():
        parts = urlsplit(client.authorize_url)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(dict.fromkeys(origins))


# ---- the sign-in record, kept while the supporter is at the provider -----------------------------------------


@dataclass
class SignIn:
    """What a callback needs to finish a sign-in, and what the supporter was doing when they left."""

    id: str
    provider: str
    state: str
    code_verifier: str
    nonce: str
    redirect_uri: str
    login_hint: str
    created_at: float
    # What to do once signed in: {"send": {...the send form...}} or {"retry": submission_id} or {"test": True}.
    purpose: dict[str, Any]


class SignInFailed(Exception):
    """The sign-in did not give us a way to send. `message` is one of the catalog messages below (N_), `label`
    the provider's name it may hold; `reason` is that sentence in English, `translated()` in the reader's
    language, for the page that shows it."""

    def __init__(self, message: str, *, cause: str, sign_in: SignIn | None = None, label: str = ""):
        self.message, self.label = message, label
        self.reason = message % {"label": label}
        super().__init__(self.reason)
        self.cause, self.sign_in = cause, sign_in

    def translated(self) -> str:
        return gettext(self.message, label=self.label)


def _fernet() -> Fernet:
    return keys.credentials_fernet("outcry oauth sign-ins")


def _key(sign_in_id: str) -> str:
    return f"outcry:oauth-sign-in:{sign_in_id}"


def _owner_key(owner: str) -> str:
    """Which sign-in a browser (its visit) has waiting: at most one, so a double tap leaves no second letter behind."""
    return f"outcry:oauth-sign-in-of:{pseudonym('oauth-sign-in', owner)}"


def _oauth_client(client: Client, redirect_uri: str, session: Any = None) -> OAuth2Client:
    return OAuth2Client(
        session,
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method's name: what both providers document
        scope=" ".join(client.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def start(
    provider: str,
    *,
    redirect_uri: str,
    login_hint: str,
    purpose: dict[str, Any],
    owner: str | None = None,
    replaces: str | None = None,
) -> tuple[SignIn, str]:
    """Begin a sign-in: keep its record and return it with the address of the provider's consent page. The
    browser's earlier sign-in still waiting (`replaces`, the one its session holds, and whatever its visit
    `owner` last started, should two taps have raced) is deleted: one browser waits for one sign-in."""
    client = clients().get(provider)
    if client is None:
        raise SignInFailed(NOT_CONFIGURED, cause="not_configured")
    sign_in = SignIn(
        id=secrets.token_urlsafe(24),
        provider=provider,
        state=generate_token(32),
        code_verifier=generate_token(64),  # 64 characters of [A-Za-z0-9]: within RFC 7636's 43–128
        nonce=generate_token(32),
        redirect_uri=redirect_uri,
        login_hint=login_hint,
        created_at=time.time(),
        purpose=purpose,
    )
    extra = {"nonce": sign_in.nonce, "prompt": "select_account"}
    if login_hint:
        extra["login_hint"] = login_hint
    url, _state = _oauth_client(client, redirect_uri).create_authorization_url(
        client.authorize_url, state=sign_in.state, code_verifier=sign_in.code_verifier, **extra
    )
    payload = _fernet().encrypt(json.dumps(sign_in.__dict__).encode())
    ttl = int(current_app.config["OAUTH_SIGN_IN_TTL"])
    # With the passwords, in the Redis that writes nothing to disk: the record holds what the supporter wrote.
    store = credentials.volatile_store()
    store.set(_key(sign_in.id), payload, ex=ttl)
    earlier = {replaces} if replaces else set()
    if owner:
        previous = store.set(_owner_key(owner), sign_in.id, ex=ttl, get=True)
        earlier.add(previous.decode() if isinstance(previous, bytes) else previous)
    doomed = [_key(earlier_id) for earlier_id in earlier - {None, "", sign_in.id} if len(earlier_id) <= 64]
    if doomed:
        store.delete(*doomed)
    log.info("oauth.started provider=%s", provider)
    return sign_in, url


def _read(raw: bytes | None) -> SignIn | None:
    if raw is None:
        return None
    try:
        return SignIn(**json.loads(_fernet().decrypt(raw)))
    except (InvalidToken, TypeError, ValueError):  # the key changed since: as good as expired
        return None


def take(sign_in_id: str) -> SignIn | None:
    """The sign-in record, removed as it is read: a callback works once."""
    if not sign_in_id or len(sign_in_id) > 64:
        return None
    store = get_credentials_redis()
    return _read(store.getdel(_key(sign_in_id)) if store is not None else None)


def _normalized(email: str) -> str:
    try:
        return validation.email(email).lower()
    except validation.FieldError:
        return email.strip().lower()


def _emails(sign_in: SignIn) -> set[str]:
    """The addresses a sign-in record holds: the one it was started for, and the send form's."""
    typed = (
        sign_in.purpose.get("send", {}).get("form", {}).get("email", []) if isinstance(sign_in.purpose, dict) else []
    )
    return {_normalized(value) for value in [sign_in.login_hint, *typed] if isinstance(value, str) and value.strip()}


def forget(*, submission_ids: Iterable[str] = (), email: str = "") -> int:
    """Erasure on request: delete the sign-ins still waiting at a provider that hold this supporter's data (a
    letter waiting for its sign-in holds the whole send form), those started from `email` or retrying one of
    `submission_ids`. Their callbacks then find nothing, and nothing is sent. Returns how many were deleted.

    The records are encrypted, so each one is read: they live OAUTH_SIGN_IN_TTL seconds (a quarter of an hour),
    so there are only as many as sign-ins were started in that time."""
    redis = get_credentials_redis()
    if redis is None:  # this process has no credentials Redis, so no sign-in can be waiting in it
        return 0
    wanted_ids, wanted_email = set(submission_ids), _normalized(email) if email else ""
    doomed = []
    for key in redis.scan_iter(match=_key("*"), count=1000):
        sign_in = _read(redis.get(key))
        if sign_in is None:
            continue
        retrying = isinstance(sign_in.purpose, dict) and sign_in.purpose.get("retry") in wanted_ids
        if retrying or (wanted_email and wanted_email in _emails(sign_in)):
            doomed.append(key)
    if doomed:
        redis.delete(*doomed)
        log.info("oauth.sign_ins_forgotten count=%d", len(doomed))
    return len(doomed)


# What the supporter reads when a sign-in fails, in English here; pages show them through the catalog
# (SignInFailed.translated(), or gettext(EXPIRED)).
NOT_CONFIGURED = N_("Signing in with that provider isn't set up on this site.")
EXPIRED = N_("Your sign-in took too long or was already used, so nothing was sent. Please try again.")
REFUSED = N_(
    "You didn't allow Outcry to send from your %(label)s account, so nothing was sent. "
    "Your letter is still here: sign in again, or choose another way to send it."
)
NO_SEND_SCOPE = N_(
    "%(label)s didn't give Outcry permission to send mail for you (the box for sending email may have been "
    "left unticked), so nothing was sent. Sign in again and allow sending, or choose another way."
)
FAILED = N_("Signing in with %(label)s didn't work just now, so nothing was sent. Please try again in a minute.")
NO_EMAIL = N_("%(label)s didn't tell us which email address you signed in with, so nothing was sent.")


def finish(sign_in: SignIn, args: dict[str, str]) -> OAuthAccount:
    """Finish a sign-in from the callback's query parameters, or raise SignInFailed."""
    client = clients().get(sign_in.provider)
    if client is None:
        raise SignInFailed(NOT_CONFIGURED, cause="not_configured")
    label = client.label
    if not hmac.compare_digest(str(args.get("state", "")), sign_in.state):
        raise SignInFailed(EXPIRED, cause="state_mismatch", sign_in=sign_in)
    if args.get("error"):
        cause = "refused" if args.get("error") == "access_denied" else f"error={args.get('error')[:40]}"
        raise SignInFailed(REFUSED if cause == "refused" else FAILED, cause=cause, sign_in=sign_in, label=label)
    code = args.get("code", "")
    if not code or len(code) > 4096:
        raise SignInFailed(FAILED, cause="no_code", sign_in=sign_in, label=label)
    token = _exchange(client, sign_in, code)
    granted = set(str(token.get("scope", "")).split())
    # Google names the scopes it granted; Microsoft names them without its resource prefix sometimes.
    if not ({client.send_scope, client.send_scope.rsplit("/", 1)[-1]} & granted):
        raise SignInFailed(NO_SEND_SCOPE, cause="send_scope_missing", sign_in=sign_in, label=label)
    claims = _id_claims(client, sign_in, token)
    email = _email(client, claims)
    expires_in = _int(token.get("expires_in"), 0)
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token or expires_in <= 0:
        raise SignInFailed(FAILED, cause="no_access_token", sign_in=sign_in, label=label)
    send_with = client.send_with
    log.info("oauth.signed_in provider=%s send_with=%s expires_in=%d", client.key, send_with, expires_in)
    return OAuthAccount(
        provider=client.key,
        email=email,
        access_token=access_token,
        expires_at=time.time() + expires_in,
        send_with=send_with,
        subject=f"{claims['iss']}\0{claims['sub']}",
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinity (JSON 1e999)
        return default


class _Response:
    """What Authlib reads from a token endpoint's answer (status, JSON), from our HTTPS client's reply."""

    def __init__(self, reply: https.Reply):
        self.reply = reply
        self.status_code = reply.status

    def json(self) -> Any:
        return json.loads(self.reply.body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise _TokenEndpointError(f"token endpoint answered {self.status_code}")


class _TokenEndpointError(Exception):
    pass


class _Session:
    """The `session` Authlib's client posts through: our checked, deadline-bound HTTPS client."""

    def __init__(self, client: https.HttpsClient, seconds: float):
        self.client, self.seconds = client, seconds

    def post(self, url: str, data: Any = None, headers: dict | None = None, auth: Any = None, **_: Any) -> _Response:
        body = urlencode(data or {})
        headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if auth is not None:
            url, headers, body = auth.prepare("POST", url, headers, body)
        reply = self.client.request("POST", url, content=body.encode(), headers=headers,
                                    seconds=self.seconds, phase="signing in")  # fmt: skip
        return _Response(reply)


def _exchange(client: Client, sign_in: SignIn, code: str) -> dict[str, Any]:
    """Trade the code (and the PKCE verifier) for tokens at the provider's token endpoint."""
    connection = https.HttpsClient()
    try:
        oauth = _oauth_client(client, sign_in.redirect_uri, _Session(connection, current_app.config["OAUTH_TIMEOUT"]))
        return dict(oauth.fetch_token(client.token_url, code=code, code_verifier=sign_in.code_verifier))
    except OAuth2Error as exc:
        log.info("oauth.exchange_refused provider=%s error=%s", client.key, (exc.error or "")[:40])
        raise SignInFailed(FAILED, cause="exchange_refused", sign_in=sign_in, label=client.label) from None
    except Exception as exc:  # noqa: BLE001 - network, TLS, deadline, a non-JSON answer: all mean "try again"
        log.warning("oauth.exchange_failed provider=%s error=%s", client.key, type(exc).__name__)
        raise SignInFailed(FAILED, cause="exchange_failed", sign_in=sign_in, label=client.label) from None
    finally:
        connection.close()


def _id_claims(client: Client, sign_in: SignIn, token: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims, checked. It came straight from the token endpoint over verified TLS, which
    OpenID Connect Core 3.1.3.7 accepts in place of checking its signature; audience, issuer, expiry and
    our nonce are still checked."""
    failed = SignInFailed(FAILED, cause="id_token_invalid", sign_in=sign_in, label=client.label)
    raw = token.get("id_token")
    if not isinstance(raw, str) or raw.count(".") != 2:
        raise failed
    try:
        payload = raw.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        raise failed from None
    if not isinstance(claims, dict):
        raise failed
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    issuer = str(claims.get("iss", ""))
    tenant = str(claims.get("tid", ""))
    issuers = {candidate.replace("{tenantid}", tenant) for candidate in client.issuers}
    now = time.time()
    expires, issued = _timestamp(claims.get("exp")), _timestamp(claims.get("iat"))
    if (
        client.client_id not in audiences
        or issuer not in issuers
        or expires is None
        or issued is None
        or not now - CLOCK_SKEW <= expires <= now + ID_TOKEN_LIFETIME_MAX
        or issued > now + CLOCK_SKEW
        or not isinstance(claims.get("sub"), str)
        or not 0 < len(claims["sub"]) <= 255  # OpenID Connect Core 2: never more than 255 ASCII characters
        or not hmac.compare_digest(str(claims.get("nonce", "")), sign_in.nonce)
    ):
        log.info("oauth.id_token_refused provider=%s", client.key)
        raise failed
    return claims


# How far our clock and the provider's may disagree, and the longest an ID token may be good for (Google's and
# Microsoft's last an hour): a later expiry, or an issue time in the future, is a token no provider makes.
CLOCK_SKEW = 60
ID_TOKEN_LIFETIME_MAX = 24 * 3600


def _timestamp(value: Any) -> float | None:
    """A claim's time (seconds since 1970), or None unless it is a finite number: JSON's 1e999 reads as
    infinity, which no integer holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _email(client: Client, claims: dict[str, Any]) -> str:
    """The address the supporter signed in as."""
    if client.key == GOOGLE:
        email = claims.get("email") if claims.get("email_verified") in (True, "true") else None
    else:
        # Work accounts may carry no `email` claim; their sign-in name is their address.
        email = claims.get("email") or claims.get("preferred_username")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise SignInFailed(NO_EMAIL, cause="no_email", label=client.label)
    return email.strip()
