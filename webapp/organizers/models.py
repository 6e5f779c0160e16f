"""Organizer accounts: the organizers, their log-ins, campaign membership and API tokens."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models import Campaign, utcnow

ADMIN, ORGANIZER = "admin", "organizer"
ROLES = (ADMIN, ORGANIZER)


class Organizer(UserMixin, db.Model):
    """Someone who runs campaigns. Admins manage organizers and every campaign; organizers their own."""

    __tablename__ = "organizers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=ORGANIZER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    memberships: Mapped[list[CampaignMember]] = relationship(
        back_populates="organizer", cascade="all, delete-orphan", passive_deletes=True
    )

    # Not a column: the token of the log-in (OrganizerSession) this object was loaded or logged in with.
    login_token = None

    def get_id(self) -> str:  # Flask-Login keeps this in the session cookie: the log-in, never the account id
        return self.login_token or ""

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated organizer cannot log in or stay logged in
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


class OrganizerSession(db.Model):
    """One log-in. The session cookie carries its token and only the token's SHA-256 is stored here.

    Logging out deletes the row, so a copy of the cookie stops working at once; a new password or a
    deactivation deletes every row of the organizer, signing out every browser.
    """

    __tablename__ = "organizer_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    organizer: Mapped[Organizer] = relationship()


class CampaignMember(db.Model):
    """An organizer who may run a campaign."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    organizer: Mapped[Organizer] = relationship(back_populates="memberships")


class ApiToken(db.Model):
    """A token for the organizer API. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, so an organizer can tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    organizer: Mapped[Organizer] = relationship()
