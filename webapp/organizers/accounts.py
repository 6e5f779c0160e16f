"""Organizer accounts: passwords, log-ins kept on the server, API tokens and who may run which campaign.

The log-in limits are Flask-Limiter limits like every other (webapp/security/limits.py); this module marks a
request whose password was wrong (`password_failed`), which is all those limits count."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
from collections.abc import Collection, Iterable

from flask import Flask, current_app, g
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.core import validation
from webapp.extensions import db, login_manager
from webapp.models import Campaign, utcnow
from webapp.organizers.models import ADMIN, ROLES, ApiToken, CampaignMember, Organizer, OrganizerSession

log = logging.getLogger(__name__)

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
TOKEN_PREFIX = "oc_"  # noqa: S105 - not a secret: makes a leaked token easy to recognise (and to grep for)


# Checked when an unknown email tries to log in, so the answer takes as long as for a known one.
@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: scrypt takes 32 MiB to make it, which every process would keep."""
    return generate_password_hash("not a real password, only here to spend the same time")


class AccountError(validation.FieldError):
    """An account operation that cannot be done; the message says why in plain words, and `field` names the input
    it is about (None: the request as a whole)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field or "")
        self.field = field


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


def create_organizer(
    email: str, password: str, role: str = "organizer", campaigns: Iterable[Campaign] = ()
) -> Organizer:
    """A new organizer, running `campaigns` (not committed). Raises AccountError for a taken email, a weak password
    or a bad role."""
    email = normalize_email(email)
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    if find_organizer(email) is not None:
        raise AccountError(f"There is already an organizer with the email {email}.")
    check_password(password)
    organizer = Organizer(email=email, password_hash=generate_password_hash(password), role=role, active=True)
    db.session.add(organizer)
    db.session.flush()  # its id, for the memberships
    for campaign in campaigns:
        add_member(campaign, organizer)
    return organizer


def update_organizer(admin: Organizer, organizer: Organizer, *, role: str, active: bool, runs: Collection[str]) -> None:
    """An admin's change to an organizer (not committed): their role, whether they may log in (switching it off
    ends every log-in and revokes every API token), and which of the admin's campaigns they run (by slug).

    Raises AccountError when admins would take their own admin role or log-in away: another admin must."""
    if organizer.id == admin.id and (role != organizer.role or not active):
        raise AccountError("You can't take away your own admin role or log-in; ask another admin.")
    organizer.role = role
    if organizer.active and not active:
        deactivate(organizer)  # signed out at once, and every API token revoked
    organizer.active = bool(active)
    for campaign in managed_campaigns(admin):
        (add_member if campaign.slug in runs else remove_member)(campaign, organizer)


def set_password(organizer: Organizer, password: str) -> None:
    """Change the password, end every log-in and revoke every API token of the organizer (not committed).

    Whoever knew the old password, or holds a copy of a session cookie or a token made with it, is out; the
    browser that changed it logs in again with `start_session`."""
    check_password(password)
    organizer.password_hash = generate_password_hash(password)
    end_sessions(organizer)
    revoked = revoke_tokens(organizer)
    log.info("organize.password_changed organizer=%s tokens_revoked=%d", organizer.id, revoked)


def deactivate(organizer: Organizer) -> None:
    """No more log-ins or API use: every session ends and every token is revoked (not committed), so switching
    the account back on later brings none of them back."""
    organizer.active = False
    end_sessions(organizer)
    revoked = revoke_tokens(organizer)
    log.info("organize.deactivated organizer=%s tokens_revoked=%d", organizer.id, revoked)


def generated_password() -> str:
    """A password an admin can pass on (the organizer changes it on their account page)."""
    return secrets.token_urlsafe(12)


def reset_password(organizer: Organizer) -> str:
    """An admin's reset: a generated password (returned, to pass on) replaces the organizer's, with every log-in
    ended and every API token revoked (not committed)."""
    password = generated_password()
    set_password(organizer, password)
    return password


def change_password(organizer: Organizer, current: str, new: str, confirm: str) -> None:
    """An organizer's own change of password (not committed): the current one first, the new one twice. Every
    other log-in ends and every API token is revoked (`set_password`); this browser's log-in starts again.

    Raises AccountError naming the field (current, confirm or new) to correct. A wrong current password counts
    for the log-in limits like a failed log-in."""
    if authenticate(organizer.email, current) is None:
        raise AccountError("That is not your current password.", "current")
    if new != confirm:
        raise AccountError("The two new passwords are different.", "confirm")
    try:
        set_password(organizer, new)
    except AccountError as exc:
        raise AccountError(str(exc), "new") from None
    start_session(organizer)


def authenticate(email: str, password: str) -> Organizer | None:
    """The active organizer with this email and password, or None (in about the same time either way).

    A wrong password marks the request for the log-in limits (`password_failed`)."""
    organizer = find_organizer(email) if email and len(email) <= 254 else None
    if organizer is None:
        check_password_hash(_dummy_hash(), password)
        password_failed()
        return None
    if not check_password_hash(organizer.password_hash, password) or not organizer.active:
        password_failed()
        return None
    return organizer


def log_in(email: str, password: str) -> tuple[Organizer, list[ApiToken]] | None:
    """Check the password and start a log-in kept on the server (not committed; `login_user` then puts its token in
    the cookie). Returns the organizer and the API tokens made for the account since their previous log-in, which
    they are told about; or None for a wrong email or password (counted by the log-in limits)."""
    organizer = authenticate(email, password)
    if organizer is None:
        return None
    made_since = tokens_made_since(organizer, organizer.last_login_at)
    start_session(organizer)
    organizer.last_login_at = utcnow()
    return organizer, made_since


def password_failed() -> None:
    """Mark this request as a failed password. The log-in limits (webapp/security/limits.py) count only those,
    per account and client address, so a stranger's failures never keep the right password out elsewhere."""
    g.outcry_password_failed = True


# ---- log-ins kept on the server -------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_cutoff() -> dt.datetime:
    return utcnow() - current_app.permanent_session_lifetime


def start_session(organizer: Organizer) -> None:
    """A new log-in for this browser (not committed); `login_user(organizer)` then puts its token in the cookie."""
    token = secrets.token_urlsafe(32)
    db.session.add(OrganizerSession(organizer_id=organizer.id, token_hash=_digest(token), created_at=utcnow()))
    organizer.login_token = token
    # Log-ins left idle past their lifetime are not coming back: clear them out while we are here.
    db.session.execute(
        delete(OrganizerSession).where(
            OrganizerSession.organizer_id == organizer.id, OrganizerSession.last_seen_at < _idle_cutoff()
        )
    )


def end_session(organizer: Organizer) -> None:
    """Log this browser out on the server (not committed): a copy of its cookie opens nothing afterwards."""
    if organizer.login_token:
        db.session.execute(
            delete(OrganizerSession).where(OrganizerSession.token_hash == _digest(organizer.login_token))
        )
        organizer.login_token = None


def end_sessions(organizer: Organizer) -> None:
    """Log the organizer out of every browser (not committed)."""
    db.session.execute(delete(OrganizerSession).where(OrganizerSession.organizer_id == organizer.id))
    organizer.login_token = None


def init_app(app: Flask) -> None:
    """Flask-Login's part for this app (bound in the extensions step): the organizer a cookie names, and the
    log-in page that a logged-out organizer is sent to."""
    login_manager.user_loader(load_organizer)
    login_manager.login_view = "organize.login"
    login_manager.login_message = "Please log in to use the organizer workspace."
    login_manager.login_message_category = "info"


def load_organizer(token: str) -> Organizer | None:
    """The organizer whose log-in this cookie names, while it lasts: not logged out, not idle for longer than
    PERMANENT_SESSION_LIFETIME (checked here, not only by the cookie's expiry), and the account active."""
    if not token or len(token) > 64:
        return None
    found = db.session.scalar(select(OrganizerSession).where(OrganizerSession.token_hash == _digest(token)))
    if found is None or found.last_seen_at < _idle_cutoff() or not found.organizer.active:
        return None
    now = utcnow()
    if (now - found.last_seen_at).total_seconds() > 60:  # at most one write a minute per log-in
        db.session.execute(update(OrganizerSession).where(OrganizerSession.id == found.id).values(last_seen_at=now))
        # Committed here, before the view runs: the request's own transaction may never commit (a GET) or be rolled
        # back (refused input), and the log-in must still count as seen, or an active organizer times out.
        db.session.commit()
    organizer = found.organizer
    organizer.login_token = token
    return organizer


# ---- API tokens -----------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(organizer: Organizer, name: str = "") -> tuple[str, ApiToken]:
    """A new API token: the token itself (show it once) and its stored record (not committed).

    The workspace asks for the password first; the owner is shown every token made since their previous
    log-in when they next log in (`tokens_made_since`), so one made behind their back does not go unseen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        organizer=organizer,
        name=(name or "API token").strip()[:100],
        token_hash=_token_hash(token),
        prefix=token[:10],
        created_at=utcnow(),
    )
    db.session.add(record)
    log.info("organize.token_created organizer=%s token=%s", organizer.id, record.prefix)
    return token, record


def issue_token_with_password(organizer: Organizer, password: str, name: str = "") -> str:
    """A new API token for the organizer once their password is given again (not committed): the token, to show
    once. Raises AccountError on the password field for a wrong one, which counts for the log-in limits."""
    if authenticate(organizer.email, password) is None:
        raise AccountError("That is not your password.", "password")
    token, _record = issue_token(organizer, name)
    return token


def revoke_tokens(organizer: Organizer) -> int:
    """Revoke every live API token of the organizer (not committed); returns how many there were."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.organizer_id == organizer.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def tokens_made_since(organizer: Organizer, since: dt.datetime | None) -> list[ApiToken]:
    """Live tokens made after `since` (the previous log-in): what the owner is told about when logging in."""
    if since is None:
        return []
    return [token for token in tokens_of(organizer) if token.created_at > since]


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
        db.session.commit()  # before the view runs, as in load_organizer: a refused request still used the token
    return record.organizer


def revoke_token(organizer: Organizer, token_id: int) -> bool:
    """Revoke one of the organizer's live tokens (not committed); False if it is not theirs or not live."""
    record = db.session.get(ApiToken, token_id)
    if record is None or record.organizer_id != organizer.id or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
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


def organizers_besides(members: Iterable[Organizer]) -> list[Organizer]:
    """The organizers an admin may add to a team of these `members` (a campaign's, from `members_of`)."""
    taken = {organizer.id for organizer in members}
    return [organizer for organizer in all_organizers() if organizer.id not in taken]


def all_organizers() -> list[Organizer]:
    return list(db.session.scalars(select(Organizer).order_by(Organizer.role, Organizer.email)))
