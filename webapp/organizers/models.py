"""Organizer workspace models: organizer accounts, campaign membership, API tokens and kept template versions."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models import Campaign, LetterTemplate, utcnow

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


class TemplateVersion(db.Model):
    """One saved state of a letter template. Letters record `template_version`, which names one of these."""

    __tablename__ = "letter_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("letter_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    target_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_note_length: Mapped[int] = mapped_column(Integer, default=0)
    salutation_and_signoff: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(16), default="en")
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Who saved it: an organizer's email, "files" for `flask campaigns load`, "api: <email>" for the API.
    author: Mapped[str] = mapped_column(String(254), default="")
    note: Mapped[str] = mapped_column(String(200), default="")  # e.g. "restored from v2"

    template: Mapped[LetterTemplate] = relationship()

    @classmethod
    def snapshot(cls, template: LetterTemplate, *, author: str = "", note: str = "") -> TemplateVersion:
        """The template as it is now, under its current version number (add it to the session)."""
        return cls(
            template=template,
            version=template.version,
            name=template.name,
            subject=template.subject,
            body=template.body,
            target_ids=list(template.target_ids or []),
            target_kinds=list(template.target_kinds or []),
            channels=list(template.channels or []),
            min_note_length=template.min_note_length or 0,
            salutation_and_signoff=bool(template.salutation_and_signoff),
            language=template.language or "en",
            translations={k: dict(v) for k, v in (template.translations or {}).items()},
            author=author[:254],
            note=note[:200],
        )
