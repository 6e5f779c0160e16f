"""Organizer accounts: passwords, log-in limits, API tokens and who may run which campaign."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from limits import parse_many
from redis.exceptions import RedisError
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db, login_manager
from webapp.letters import validation
from webapp.models import Campaign, utcnow
from webapp.organize.models import ADMIN, ROLES, ApiToken, CampaignMember, Organizer, new_session_token

log = logging.getLogger(__name__)

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
TOKEN_PREFIX = "oc_"  # noqa: S105 - not a secret: makes a leaked token easy to recognise (and to grep for)


# Checked when an unknown email tries to log in, so the answer takes as long as for a known one.
@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: scrypt takes 32 MiB to make it, which every process would keep."""
    return generate_password_hash("not a real password, only here to spend the same time")


LIMITER_EXTENSION = "outcry.limiter"  # where webapp/security/limits.py keeps this app's Flask-Limiter


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why in plain words."""


# ---- accounts -------------------------------------------------------------------------------------------------


def normalize_email(value: str) -> str:
    try:
        return validation.email(value).lower()
    except validation.FieldError as exc:
        raise AccountError(str(exc)) from None


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"Use at least {PASSWORD_MIN} characters (a few random words work well).")
    if len(password) > PASSWORD_MAX:
        raise AccountError("That password is too long.")


def find_organizer(email: str) -> Organizer | None:
    return db.session.scalar(select(Organizer).where(func.lower(Organizer.email) == email.strip().lower()))


def create_organizer(email: str, password: str, role: str = "organizer") -> Organizer:
    """A new organizer (not committed). Raises AccountError for a taken email, a weak password or a bad role."""
    email = normalize_email(email)
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    if find_organizer(email) is not None:
        raise AccountError(f"There is already an organizer with the email {email}.")
    check_password(password)
    organizer = Organizer(email=email, password_hash=generate_password_hash(password), role=role, active=True)
    db.session.add(organizer)
    return organizer


def set_password(organizer: Organizer, password: str) -> None:
    """Change the password and sign the organizer out everywhere else (not committed)."""
    check_password(password)
    organizer.password_hash = generate_password_hash(password)
    organizer.session_token = new_session_token()


def generated_password() -> str:
    """A password an admin can pass on (the organizer changes it on their account page)."""
    return secrets.token_urlsafe(12)


def authenticate(email: str, password: str) -> Organizer | None:
    """The active organizer with this email and password, or None (in about the same time either way)."""
    organizer = find_organizer(email) if email and len(email) <= 254 else None
    if organizer is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(organizer.password_hash, password) or not organizer.active:
        return None
    return organizer


@login_manager.user_loader
def load_organizer(session_token: str) -> Organizer | None:
    if not session_token or len(session_token) > 64:
        return None
    return db.session.scalar(select(Organizer).where(Organizer.session_token == session_token))


# ---- log-in limits --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimited(Exception):
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        wait = "a minute" if minutes == 1 else f"{minutes} minutes"
        return f"Too many log-in attempts. For your account's safety, please wait {wait} and try again."


def _keyed(kind: str, value: str) -> str:
    key = hashlib.sha256(f"outcry login limits\0{current_app.config['SECRET_KEY']}".encode()).digest()
    return hmac.new(key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]


def count_login_attempt(client_address: str, email: str) -> None:
    """Count one log-in attempt per client address and per account, or raise LoginLimited.

    Uses the storage of the app's Flask-Limiter (RATELIMIT_LOGIN); keys are keyed hashes, so Redis
    never holds an address or an email. With limits off, or Redis unreachable, attempts are not limited.
    """
    limiter = current_app.extensions.get(LIMITER_EXTENSION)
    if limiter is None or not limiter.enabled:
        return
    items = parse_many(current_app.config["RATELIMIT_LOGIN"])
    keys = [
        ("login-address", _keyed("address", client_address or "")),
        ("login-account", _keyed("account", email.strip().lower())),
    ]
    strategy = limiter.limiter
    try:
        refused = [(item, key) for item in items for key in keys if not strategy.hit(item, *key)]
        if not refused:
            return
        now = time.time()
        wait = max(strategy.get_window_stats(item, *key).reset_time - now for item, key in refused)
    except RedisError as exc:
        log.warning("organize.login_limits_unavailable error=%s", type(exc).__name__)
        return
    log.info("organize.login_limited")
    raise LoginLimited(max(1, math.ceil(wait)))


# ---- API tokens -----------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(organizer: Organizer, name: str = "") -> tuple[str, ApiToken]:
    """A new API token: the token itself (show it once) and its stored record (not committed)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        organizer=organizer,
        name=(name or "API token").strip()[:100],
        token_hash=_token_hash(token),
        prefix=token[:10],
    )
    db.session.add(record)
    return token, record


def organizer_for_token(token: str) -> Organizer | None:
    """The active organizer a bearer token belongs to, or None for an unknown, revoked or malformed token."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if record is None or not record.organizer.active:
        return None
    now = utcnow()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        record.last_used_at = now  # at most one write a minute per token
        db.session.commit()
    return record.organizer


def revoke_token(organizer: Organizer, token_id: int) -> bool:
    record = db.session.get(ApiToken, token_id)
    if record is None or record.organizer_id != organizer.id or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    db.session.commit()
    return True


def tokens_of(organizer: Organizer) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.organizer_id == organizer.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc())
        )
    )


# ---- who may run what -----------------------------------------------------------------------------------------


def can_manage(organizer: Organizer | None, campaign: Campaign) -> bool:
    if organizer is None or not getattr(organizer, "is_authenticated", False) or not organizer.active:
        return False
    if organizer.role == ADMIN:
        return True
    return db.session.get(CampaignMember, {"campaign_id": campaign.id, "organizer_id": organizer.id}) is not None


def managed_campaigns(organizer: Organizer) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.position, Campaign.title)
    if organizer.role != ADMIN:
        query = query.join(CampaignMember, CampaignMember.campaign_id == Campaign.id).where(
            CampaignMember.organizer_id == organizer.id
        )
    return list(db.session.scalars(query))


def add_member(campaign: Campaign, organizer: Organizer) -> bool:
    """Let an organizer run a campaign (not committed); False if they already could."""
    if db.session.get(CampaignMember, {"campaign_id": campaign.id, "organizer_id": organizer.id}) is not None:
        return False
    db.session.add(CampaignMember(campaign_id=campaign.id, organizer_id=organizer.id))
    return True


def remove_member(campaign: Campaign, organizer: Organizer) -> bool:
    member = db.session.get(CampaignMember, {"campaign_id": campaign.id, "organizer_id": organizer.id})
    if member is None:
        return False
    db.session.delete(member)
    return True


def members_of(campaign: Campaign) -> list[Organizer]:
    return list(
        db.session.scalars(
            select(Organizer)
            .join(CampaignMember, CampaignMember.organizer_id == Organizer.id)
            .where(CampaignMember.campaign_id == campaign.id)
            .order_by(Organizer.email)
        )
    )


def all_organizers() -> list[Organizer]:
    return list(db.session.scalars(select(Organizer).order_by(Organizer.role, Organizer.email)))
