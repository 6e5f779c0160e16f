"""Supporters' mail credentials (an SMTP password, or an OAuth access token from "Send with Google / Microsoft"):
Fernet-encrypted, with a short TTL, in a Redis that never writes to disk; never in SQL, logs or task arguments.

The credentials Redis (CREDENTIALS_REDIS_URL) must keep nothing on disk: an append-only file keeps every value
it was ever given until a rewrite (a DEL only appends), and a snapshot keeps what was there. Before a secret is
stored, the server is asked (CONFIG GET) and refused unless both are off, so a persistent Redis can never
receive one, whatever the settings say. The key is CREDENTIALS_KEY (`make run` makes a new one for each run
and never writes it down; compose takes it from its own setting), else derived from SECRET_KEY: never stored
with the data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import redis
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from redis.exceptions import RedisError

from webapp.core import keys
from webapp.extensions import get_credentials_redis

log = logging.getLogger(__name__)

SECURITY_CHOICES = ("starttls", "ssl")


@dataclass(frozen=True)
class SmtpAccount:
    """Where and how to log in. `repr` hides the password so it cannot leak through a log line."""

    host: str
    port: int
    security: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"SmtpAccount(host={self.host!r}, port={self.port}, security={self.security!r}, username=…, password=…)"

    __str__ = __repr__


@dataclass(frozen=True)
class OAuthAccount:
    """An access token from signing in with Google or Microsoft, good until `expires_at` (Unix time). Never a
    refresh token: when this one runs out, the supporter signs in again. `repr` hides the token."""

    provider: str  # google | microsoft
    email: str  # the address the provider says the supporter signed in as
    access_token: str
    expires_at: float
    send_with: str  # gmail_api | graph | smtp (XOAUTH2)
    # Who the account is for the provider: the ID token's issuer and subject, which never change, unlike the
    # address (a provider may let its user change that). "" only in records stored before it was kept.
    subject: str = ""

    def __repr__(self) -> str:
        return f"OAuthAccount(provider={self.provider!r}, send_with={self.send_with!r}, email=…, access_token=…)"

    __str__ = __repr__


Account = SmtpAccount | OAuthAccount
_KINDS = {"smtp": SmtpAccount, "oauth": OAuthAccount}


class UnsafeStore(RedisError):
    """No Redis to keep a password in that writes nothing to disk; the password was not stored."""


def _fernet() -> Fernet:
    return keys.credentials_fernet("outcry smtp credentials")


_VERIFIED: dict[int, float] = {}  # id of a client → when its server was last seen to keep nothing on disk
VERIFY_EVERY = 60.0


def _store() -> redis.Redis:
    """The credentials Redis, once it has said (within the last minute) that it keeps nothing on disk."""
    client = get_credentials_redis()
    if client is None:
        raise UnsafeStore("no credentials Redis: set CREDENTIALS_REDIS_URL")
    checked = _VERIFIED.get(id(client))
    if checked is not None and time.monotonic() - checked < VERIFY_EVERY:
        return client
    try:
        settings = {**client.config_get("save"), **client.config_get("appendonly")}
    except (redis.ConnectionError, redis.TimeoutError):
        raise
    except RedisError:  # CONFIG renamed or refused (some managed services): it cannot vouch for itself
        raise UnsafeStore("the credentials Redis does not say whether it writes to disk (CONFIG GET)") from None
    if settings.get("save", "x").strip() or settings.get("appendonly", "yes") != "no":
        log.error(
            "credentials.store_refused reason=persistent save=%r appendonly=%s: point CREDENTIALS_REDIS_URL at a "
            "Redis with `--save '' --appendonly no`",
            settings.get("save"),
            settings.get("appendonly"),
        )
        raise UnsafeStore("the credentials Redis writes to disk")
    _VERIFIED[id(client)] = time.monotonic()
    return client


def volatile_store() -> redis.Redis:
    """The credentials Redis, checked to keep nothing on disk (UnsafeStore otherwise): for other short-lived
    secrets of a supporter's, like a sign-in in progress (webapp/mailauth/service.py)."""
    return _store()


def check_store() -> None:
    """Raise UnsafeStore (a RedisError) unless a secret could be stored now; call before taking a submission."""
    _store()


def sender_fingerprint(email: str, account: Account) -> str:
    """A stand-in for "whoever can log in to this mail account": a keyed hash of the address, the server, the
    user name and the password; for a Google or Microsoft sign-in, of the provider and the account it vouched
    for (the ID token's issuer and subject, not its address, which its user may change). The per-sender budget is counted on it (webapp/security/limits.py), so a stranger who types an
    activist's address, without her password or her sign-in, spends a budget of their own, never hers.

    Keyed with the credentials key, which never sits with the data: the hash in Redis reveals nothing, and
    nobody holding only the data files can test guesses of the password against it."""
    key = keys.credentials_key("outcry sender budget")
    if isinstance(account, OAuthAccount):
        parts = ("oauth", account.provider, account.subject or account.email.strip().lower())
    else:
        parts = ("smtp", email.strip().lower(), account.host.lower(), account.username, account.password)
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def _key(submission_id: str) -> str:
    return f"outcry:smtp-credentials:{submission_id}"


def store(submission_id: str, account: Account) -> None:
    """Encrypt the account into the credentials Redis for SMTP_CREDENTIALS_TTL seconds at most (an access token
    no longer than it is good); UnsafeStore (a RedisError) when that Redis would keep it on disk."""
    kind = "oauth" if isinstance(account, OAuthAccount) else "smtp"
    payload = json.dumps({"kind": kind, **account.__dict__}).encode()
    ttl = int(current_app.config["SMTP_CREDENTIALS_TTL"])
    if isinstance(account, OAuthAccount):
        ttl = min(ttl, int(account.expires_at - time.time()))
        if ttl <= 0:
            return  # already expired: nothing worth keeping; delivery asks the supporter to sign in again
    _store().set(_key(submission_id), _fernet().encrypt(payload), ex=ttl)


def load(submission_id: str) -> Account | None:
    """The account, or None when it expired (or was never stored, or this process has no credentials Redis)."""
    client = get_credentials_redis()
    token = client.get(_key(submission_id)) if client is not None else None
    if token is None:
        return None
    try:
        fields = json.loads(_fernet().decrypt(token))
    except InvalidToken:  # the key changed since it was stored (a new `make run`): as good as expired
        return None
    return _KINDS[fields.pop("kind", "smtp")](**fields)


def forget(*submission_ids: str) -> None:
    """Delete these submissions' credentials, in one round trip."""
    client = get_credentials_redis()
    if submission_ids and client is not None:
        client.delete(*(_key(submission_id) for submission_id in submission_ids))


def stored_submission_ids() -> list[str]:
    """Submissions whose credentials are still waiting in Redis (in no particular order); ids only, nothing is
    decrypted."""
    client = get_credentials_redis()
    if client is None:
        return []
    prefix = _key("")
    return [key.decode()[len(prefix) :] for key in client.scan_iter(match=_key("*"), count=1000)]
