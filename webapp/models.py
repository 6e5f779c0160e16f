"""Database models: campaigns and their content, targets, letter templates and their kept versions, submissions, letters
and the totals kept beside them."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.core import framing, validation
from webapp.extensions import db
from webapp.i18n import gettext, roles


def utcnow() -> dt.datetime:
    """Naive UTC: the same on SQLite and PostgreSQL columns without time zone."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# Letter statuses. Terminal ones are counted in LetterTally.
QUEUED, SENDING, SENT, FAILED, HANDED_OFF = "queued", "sending", "sent", "failed", "handed_off"
TERMINAL = (SENT, FAILED, HANDED_OFF)
PENDING = (QUEUED, SENDING)
# What the totals count: the terminal statuses, and hand-offs the supporter confirmed afterwards.
CONFIRMED = "confirmed"
COUNTED = (SENT, HANDED_OFF, FAILED, CONFIRMED)

# Why an own-email letter failed (Letter.failure_kind, from the DeliveryError's `kind`), when the reason lies
# with the supporter's account or mail server, or with this site, and not with the target: a wrong password, a
# sign-in that ran out, a full sending quota, a refused sender address, a server that was slow, unreachable or
# unable to do what sending needs, a host the address policy refused, the site's own sign-in set-up, the
# supporter's request to erase their data. The workspace's target health leaves these out; every other
# failure (the recipient refused, the letter refused, an error we could not place, a row older than the
# column) still counts against the target.
NOT_THE_TARGETS = frozenset(
    {
        "auth",
        "no_passwords",
        "expired",
        "quota",
        "sender",
        "deadline",
        "unreachable",
        "busy",
        "server",
        "host",
        "setup",
        "cancelled",
    }
)

# Channels: how a letter leaves. Email channels need the target's address; the others are hand-offs.
SMTP, MAILTO, CONTACT_FORM, CALL, PRINT = "smtp", "mailto", "contact_form", "call", "print"
# Delivered into a member of Congress's office through Communicating with Congress (webapp/cwc), when configured.
CWC = "cwc"
EMAIL_CHANNELS = (SMTP, MAILTO)
HANDOFF_CHANNELS = (MAILTO, CONTACT_FORM, CALL, PRINT)
# Channels a worker delivers (the outbox's queued letters); hand-offs are finished when they are written.
DELIVERED_CHANNELS = (SMTP, CWC)
ALL_CHANNELS = (SMTP, MAILTO, CONTACT_FORM, CALL, PRINT, CWC)
# What a supporter may tell us happened after a hand-off, per channel (recorded once, as `confirmed`).
OUTCOMES = {MAILTO: ("sent",), CONTACT_FORM: ("sent",), PRINT: ("sent",), CALL: ("called", "voicemail")}

# Target kinds. Legislators never have email channels.
LEGISLATOR_KINDS = ("senator", "representative", "delegate")
# Kinds an organizer adds; members of Congress come from the Congress data, by ZIP code.
CUSTOM_KINDS = ("ceo", "company", "un_office", "government", "person")
TARGET_KINDS = (*CUSTOM_KINDS, *LEGISLATOR_KINDS)


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    # Whether the campaign offers writing to the supporter's own members of Congress.
    congress: Mapped[bool] = mapped_column(Boolean, default=False)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Until when the campaign's rate limits are raised for a planned push (webapp/security/limits.py).
    limits_lifted_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # When an organizer closed it: a closed campaign shows its totals and a thank-you and takes no letters.
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Fingerprint of the campaign folder last loaded from files: an unchanged folder is not applied again,
    # so edits made in the organizer workspace survive `make run` restarts (webapp/campaigns/service.py).
    files_digest: Mapped[str | None] = mapped_column(String(64))
    # Site origins allowed to show the embeddable page in an <iframe> (webapp/embed/); empty: only this site.
    embed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # What supporters read in other languages: {"es": {"title", "summary", "updates": {"2026-11-29": …},
    # "resources": {name: description}}}; anything left out is shown as written. Replaced, never changed in place.
    translations: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON, default=dict)

    updates: Mapped[list[CampaignUpdate]] = relationship(
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="(CampaignUpdate.date.desc(), CampaignUpdate.id)",
    )
    resources: Mapped[list[Resource]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="Resource.position"
    )
    templates: Mapped[list[LetterTemplate]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="LetterTemplate.position"
    )
    target_links: Mapped[list[CampaignTarget]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignTarget.position"
    )

    @property
    def targets(self) -> list[Target]:
        return [link.target for link in self.target_links]

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def translated(self, field: str, language: str) -> str:
        """The campaign's title or summary in `language`, as written when it has no translation."""
        return (self.translations or {}).get(language, {}).get(field) or getattr(self, field)

    def no_email_reason(self, target: Target, language: str) -> str | None:
        """Why email isn't offered for a target, with the target's note in `language` when the campaign has it."""
        reason = target.no_email_reason
        if reason and reason == target.note:
            return ((self.translations or {}).get(language, {}).get("notes") or {}).get(target.id) or reason
        return reason


class CampaignUpdate(db.Model):
    """A dated note shown above the actions ("Update, June 21: …")."""

    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)

    campaign: Mapped[Campaign] = relationship(back_populates="updates")

    def translated(self, field: str, language: str) -> str:
        found = ((self.campaign.translations or {}).get(language, {}).get("updates") or {}).get(self.date.isoformat())
        return found or getattr(self, field)


class Resource(db.Model):
    """A group to donate to, a petition, something to read. The link is optional."""

    __tablename__ = "campaign_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="read")  # donate | petition | read
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="resources")

    def translated(self, field: str, language: str) -> str:
        found = ((self.campaign.translations or {}).get(language, {}).get("resources") or {}).get(self.name)
        return found or getattr(self, field)


class Target(db.Model):
    """Someone letters go to. Ids are stable strings: a slug, or a bioguide id for legislators."""

    __tablename__ = "targets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    organization: Mapped[str] = mapped_column(String(200), default="")
    salutation: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    contact_form: Mapped[str | None] = mapped_column(String(500))
    website: Mapped[str | None] = mapped_column(String(500))
    postal_address: Mapped[str | None] = mapped_column(Text)
    # Shown to supporters, e.g. why there is no email address yet.
    note: Mapped[str] = mapped_column(Text, default="")
    party: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(2))
    district: Mapped[int | None] = mapped_column(Integer)
    # Members who left office stay (their totals stay) but are no longer offered.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def is_legislator(self) -> bool:
        return self.kind in LEGISLATOR_KINDS

    @property
    def channels(self) -> list[str]:
        """Channels this target can take, from what is known about it."""
        found = []
        if self.email and not self.is_legislator:
            found += [SMTP, MAILTO]
        if self.contact_url:
            found.append(CONTACT_FORM)
        if self.phone:
            found.append(CALL)
        if self.postal_address:
            found.append(PRINT)
        return found

    @property
    def contact_url(self) -> str | None:
        """The web form letters can be pasted into: the contact form, else a legislator's website; None when neither
        is a link that leads somewhere (one stored before links were checked: no page links to it)."""
        url = self.contact_form or (self.website if self.is_legislator else None)
        return url if url and validation.is_link(url) else None

    @property
    def display_name(self) -> str:
        """`Senator Alex Padilla (D-CA)`, `Representative Nancy Pelosi (D-CA-11)`; others by name. The role in the
        reader's language (webapp/i18n/roles.py); `role` is the English that letters and CWC use."""
        if not self.is_legislator:
            return self.name
        party = (self.party or "?")[:1]
        seat = self.state or ""
        if self.kind != "senator" and self.district:
            seat += f"-{self.district}"
        return f"{roles.with_name(self.role, self.name)} ({party}-{seat})"

    @property
    def role(self) -> str:
        """How a legislator is addressed: Senator, Representative, Delegate, Resident Commissioner."""
        if not self.is_legislator:
            return ""
        return (self.extra or {}).get("role") or {
            "senator": "Senator",
            "representative": "Representative",
            "delegate": "Delegate",
        }[self.kind]

    @property
    def languages(self) -> list[str]:
        """The languages this office reads letters in, as its record says (campaign.yaml `languages`); English
        when it doesn't say, and always for members of Congress."""
        listed = (self.extra or {}).get("languages") if not self.is_legislator else None
        return list(listed) if listed else ["en"]

    @languages.setter
    def languages(self, value: list[str]) -> None:
        self.extra = {**(self.extra or {}), "languages": list(value)}

    @property
    def no_email_reason(self) -> str | None:
        """Why email channels are missing, in words a supporter understands."""
        if self.is_legislator:
            return gettext(
                "Members of Congress don't publish email addresses; use their contact form, call, or send a printed letter."
            )
        if not self.email:
            return self.note or gettext(
                "We don't have an email address for %(name)s yet, so email isn't offered.", name=self.name
            )
        return None


class CampaignTarget(db.Model):
    __tablename__ = "campaign_targets"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("targets.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="target_links")
    target: Mapped[Target] = relationship(lazy="joined")


class LetterTemplate(db.Model):
    """An organizer's letter: subject and body in sandboxed Jinja2, for some targets and channels."""

    __tablename__ = "letter_templates"
    __table_args__ = (UniqueConstraint("campaign_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # Which targets it fits: explicit target ids and/or target kinds.
    target_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Every UPDATE of a template names the version it was read at (`WHERE version = :read`), and the version moves on
    # only through TemplateVersion.next: a save that lost a race with another touches no row, and SQLAlchemy raises
    # StaleDataError (the workspace's Conflict) instead of writing a second "version 2" over the first.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Characters of their own words a supporter must write to send this letter (0: no minimum).
    min_note_length: Mapped[int] = mapped_column(Integer, default=0)
    # Add "Dear …," before the body and the supporter's note and "Sincerely, <name>" after it
    # (webapp/core/framing.py): the organizer writes only what the letter says.
    salutation_and_signoff: Mapped[bool] = mapped_column(Boolean, default=False)
    # Library of Congress topics a letter delivered through CWC is filed under (webapp/cwc/topics.py).
    cwc_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Retired templates stay for the letters that used them but are no longer offered.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The language name, subject and body are written in, and the same letter in other languages:
    # {"es": {"name": …, "subject": …, "body": …}} (every other setting is shared). Replaced, never changed in place.
    language: Mapped[str] = mapped_column(String(16), default="en")
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)

    campaign: Mapped[Campaign] = relationship(back_populates="templates")

    @property
    def full_body(self) -> str:
        """The body template that is rendered for supporters: framed when the template asks for it."""
        return framing.full_body(self.body, bool(self.salutation_and_signoff), self.language or "en")

    @property
    def languages(self) -> list[str]:
        """Every language this letter can be read and sent in, its own first."""
        return [self.language or "en", *sorted(self.translations or {})]

    def text_in(self, language: str | None) -> LetterText:
        """The letter in `language`, or in its own language when it has no such version."""
        version = (self.translations or {}).get(language or "")
        if not version:
            return LetterText(
                self.language or "en",
                self.name,
                self.subject,
                self.full_body,
                self.body,
                bool(self.salutation_and_signoff),
            )
        framed = bool(self.salutation_and_signoff)
        return LetterText(
            language, version["name"], version["subject"], framing.full_body(version["body"], framed, language),
            version["body"], framed,
        )  # fmt: skip

    def fits(self, target: Target) -> bool:
        return target.id in self.target_ids or target.kind in self.target_kinds

    def channels_for(self, target: Target) -> list[str]:
        """The ways this letter can reach `target`: the target's channels the letter allows, and, first, delivery
        into a member's office through CWC when the letter allows it, names its topics and this site has CWC."""
        found = [channel for channel in target.channels if channel in self.channels]
        if CWC in self.channels and self.cwc_topics and _cwc_deliverable(target):
            found.insert(0, CWC)
        return found


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
    def next(cls, template: LetterTemplate, *, author: str = "", note: str = "") -> TemplateVersion:
        """A change to what the template is made of: its version number moves on, and the new state is kept (add it
        to the session). The files' loader and the workspace both count versions through this."""
        template.version = (template.version or 0) + 1
        return cls.snapshot(template, author=author, note=note)

    @classmethod
    def snapshot(cls, template: LetterTemplate, *, author: str = "", note: str = "") -> TemplateVersion:
        """The template as it is now, under its current version number (add it to the session)."""
        content = template_content(template)
        return cls(template=template, version=template.version, **content, author=author[:254], note=note[:200])


def template_content(text: LetterTemplate | TemplateVersion) -> dict[str, Any]:
    """What a letter is made of, as a template holds it now or a version kept it (copies, with the defaults): what
    each version keeps, and what the workspace checks again when it restores one."""
    return {
        "name": text.name,
        "subject": text.subject,
        "body": text.body,
        "target_ids": list(text.target_ids or []),
        "target_kinds": list(text.target_kinds or []),
        "channels": list(text.channels or []),
        "min_note_length": text.min_note_length or 0,
        "salutation_and_signoff": bool(text.salutation_and_signoff),
        "language": text.language or "en",
        "translations": {language: dict(words) for language, words in (text.translations or {}).items()},
    }


def _cwc_deliverable(target: Target) -> bool:
    """A sitting member with an office code, on a site whose operator configured CWC (webapp/config.check_cwc)."""
    return (
        target.is_legislator
        and target.active
        and bool((target.extra or {}).get("cwc_office"))
        and has_app_context()
        and bool(current_app.config.get("CWC_ENABLED"))
    )


@dataclass(frozen=True)
class LetterText:
    """One language's version of a letter template: what supporters pick it by, and what is rendered."""

    language: str
    name: str
    subject: str
    full_body: str  # framed when the template asks for it
    body: str  # as the organizer wrote it
    salutation_and_signoff: bool = False


def new_submission_id() -> str:
    return secrets.token_urlsafe(18)


def new_letter_id() -> str:
    return uuid.uuid4().hex


class Submission(db.Model):
    """One supporter's action: their details and the letters it produced. The id is unguessable."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_created_at", "created_at"),)  # the retention purge's lookup

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_submission_id)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("letter_templates.id"))
    channel: Mapped[str] = mapped_column(String(20))
    supporter_name: Mapped[str] = mapped_column(String(200))
    supporter_email: Mapped[str] = mapped_column(String(254))
    supporter_zip: Mapped[str] = mapped_column(String(10))
    supporter_address: Mapped[str] = mapped_column(Text, default="")
    supporter_note: Mapped[str] = mapped_column(Text, default="")
    # The postal address a CWC letter carries, field by field (webapp/cwc/address.py); erased with the rest.
    constituent: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Where the supporter's mail server is (no credentials: those live encrypted in Redis).
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    # The language its letters are written in (the template's, or one of its translations).
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # When the supporter's personal data was erased (retention purge or their request); counts stay.
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    campaign: Mapped[Campaign] = relationship()
    template: Mapped[LetterTemplate] = relationship()
    letters: Mapped[list[Letter]] = relationship(back_populates="submission", order_by="Letter.position")


class Letter(db.Model):
    """One letter to one target. Written before anything is queued; its status is the truth."""

    __tablename__ = "letters"
    __table_args__ = (
        Index("ix_letters_submission", "submission_id"),
        Index("ix_letters_status_lease", "status", "lease_until"),
        Index("ix_letters_status_created", "status", "created_at"),  # /healthz: the oldest waiting letter
        Index("ix_letters_template_version", "template_id", "template_version"),  # letters per template and version
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_letter_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    target_id: Mapped[str] = mapped_column(ForeignKey("targets.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("letter_templates.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    # Copied from the target record when the letter is written; never from the request.
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    personal_share: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Outbox bookkeeping: who holds the letter, until when, and when it may be tried again.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    failure_kind: Mapped[str | None] = mapped_column(String(20))  # whose problem a failure was (NOT_THE_TARGETS)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # What the supporter told us happened after a hand-off ("sent", "called", "voicemail"); once only.
    outcome: Mapped[str | None] = mapped_column(String(20))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    submission: Mapped[Submission] = relationship(back_populates="letters")
    target: Mapped[Target] = relationship()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class TargetTally(db.Model):
    """Counts per campaign and target: what the campaign page and the totals API read, one row per target
    however many letters there are. Bumped with LetterTally, in the letter's own transaction."""

    __tablename__ = "target_tallies"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("targets.id"), primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    handed_off: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)


class LetterTally(db.Model):
    """Counts per campaign, target, template, channel and day, bumped in the letter's own transaction."""

    __tablename__ = "letter_tallies"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("targets.id"), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("letter_templates.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    handed_off: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
