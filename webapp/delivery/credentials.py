"""Supporters' mail credentials (an SMTP password, or an OAuth access token from "Send with Google / Microsoft")
kept only in Redis, Fernet-encrypted, with a short TTL; never in SQL, logs or task arguments."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from webapp.extensions import get_redis

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

    def __repr__(self) -> str:
        return f"OAuthAccount(provider={self.provider!r}, send_with={self.send_with!r}, email=…, access_token=…)"

    __str__ = __repr__


Account = SmtpAccount | OAuthAccount
_KINDS = {"smtp": SmtpAccount, "oauth": OAuthAccount}


def _fernet() -> Fernet:
    """A key derived from SECRET_KEY (or CREDENTIALS_KEY) with HKDF, so operators manage one secret."""
    secret = current_app.config.get("CREDENTIALS_KEY") or current_app.config["SECRET_KEY"]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"outcry smtp credentials").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def sender_fingerprint(email: str, account: SmtpAccount) -> str:
    """A stand-in for "whoever can log in to this mail account": a keyed hash of the address, the server, the
    user name and the password. The per-sender budget is counted on it (webapp/security/limits.py), so a
    stranger who types an activist's address, without her password, spends a budget of their own, never hers.

    Keyed with the credentials key, which never sits with the data: the hash in Redis reveals nothing, and
    nobody holding only the data files can test guesses of the password against it."""
    secret = current_app.config.get("CREDENTIALS_KEY") or current_app.config["SECRET_KEY"]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"outcry sender budget").derive(secret.encode())
    material = "\0".join((email.strip().lower(), account.host.lower(), account.username, account.password))
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:32]


def _key(submission_id: str) -> str:
    return f"outcry:smtp-credentials:{submission_id}"


def store(submission_id: str, account: Account) -> None:
    """Keep the account for SMTP_CREDENTIALS_TTL seconds at most; an access token no longer than it is good."""
    kind = "oauth" if isinstance(account, OAuthAccount) else "smtp"
    payload = json.dumps({"kind": kind, **account.__dict__}).encode()
    ttl = int(current_app.config["SMTP_CREDENTIALS_TTL"])
    if isinstance(account, OAuthAccount):
        ttl = min(ttl, int(account.expires_at - time.time()))
        if ttl <= 0:
            return  # already expired: nothing worth keeping; delivery asks the supporter to sign in again
    get_redis().set(_key(submission_id), _fernet().encrypt(payload), ex=ttl)


def load(submission_id: str) -> Account | None:
    """The account, or None when it expired (or was never stored)."""
    token = get_redis().get(_key(submission_id))
    if token is None:
        return None
    try:
        fields = json.loads(_fernet().decrypt(token))
    except InvalidToken:  # SECRET_KEY changed since it was stored: as good as expired
        return None
    return _KINDS[fields.pop("kind", "smtp")](**fields)


def forget(*submission_ids: str) -> None:
    """Delete these submissions' passwords, in one round trip."""
    if submission_ids:
        get_redis().delete(*(_key(submission_id) for submission_id in submission_ids))


def stored_submission_ids() -> list[str]:
    """Submissions whose credentials are still waiting in Redis (in no particular order); ids only, nothing is
    decrypted."""
    prefix = _key("")
    return [key.decode()[len(prefix) :] for key in get_redis().scan_iter(match=_key("*"), count=1000)]
