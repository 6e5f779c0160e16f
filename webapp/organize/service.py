"""The organizer workspace's work as plain functions: campaigns, targets (and CSV imports), letter templates
and their versions, and the live preview. Views, the organizer API and tests all call these."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from webapp.campaigns import checks, content
from webapp.campaigns.content import TARGET_FIELDS, TemplateContent, normalize_body
from webapp.campaigns.service import active_templates
from webapp.core import framing, validation
from webapp.core.rendering import (
    SAMPLE_SUPPORTER,
    SAMPLE_TARGETS,
    LetterTemplateError,
    context_for,
    render,
    target_variables,
)
from webapp.extensions import db
from webapp.i18n import LANGUAGES as SUPPORTER_LANGUAGES
from webapp.i18n import language_name
from webapp.i18n import lazy_gettext as _l
from webapp.models import (
    CALL,
    CUSTOM_KINDS,
    EMAIL_CHANNELS,
    FAILED,
    LEGISLATOR_KINDS,
    NOT_THE_TARGETS,
    Campaign,
    CampaignTarget,
    CampaignUpdate,
    Letter,
    LetterTemplate,
    Resource,
    Target,
    TemplateVersion,
    utcnow,
)
from webapp.organize import dashboard
from webapp.organizers import accounts, permissions
from webapp.organizers.models import Organizer
from webapp.totals.service import campaign_totals

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
KIND_NAMES = {
    "ceo": "CEO or executive",
    "company": "Company",
    "un_office": "UN office or agency",
    "government": "Government office or mission",
    "person": "Person",
    "senator": "US senators",
    "representative": "US representatives",
    "delegate": "Delegates and the resident commissioner",
}
CHANNEL_NAMES = {
    "smtp": "Email from the supporter's own account",
    "mailto": "The supporter's mail app (mailto)",
    "contact_form": "The target's web contact form",
    "print": "A printed letter",
    "call": "A phone call (call script)",
    "cwc": _l("Delivered into their office through Congress's own system (CWC, when this site has it)"),
}
# The same, as short as a tag on a table row.
CHANNEL_TAGS = {
    "smtp": "email",
    "mailto": "mail app",
    "contact_form": "web form",
    "print": "printed letter",
    "call": "phone",
    "cwc": _l("to their office"),
}
RESOURCE_KINDS = {"donate": "Donate", "petition": "Petition", "read": "Read more"}
TITLE_MAX, SUMMARY_MAX, UPDATE_MAX = 200, 2000, 2000
IMPORT_ROWS_MAX = 2000

# The variables a letter may use, as letter_templates/README.md lists them (a test keeps the two in step).
VARIABLES: tuple[tuple[str, str], ...] = (
    ("supporter.name", "the supporter's name, as typed"),
    ("supporter.first_name", "the first word of it"),
    ("supporter.email", "their email address (empty for phone calls)"),
    ("supporter.zip", "their ZIP code (94110 or 94110-1234)"),
    ("supporter.address", "their postal address, several lines, possibly empty"),
    ("supporter.note", "their own words, possibly empty — every letter but a call script must use it"),
    ("target.name", "the target's full name"),
    ("target.first_name", "first name, for people and members of Congress"),
    ("target.last_name", "last name, for people and members of Congress"),
    ("target.title", "title (for members: “Senator”)"),
    ("target.organization", "organization (for members: “US Senate”)"),
    ("target.role", "Senator, Representative, Delegate or Resident Commissioner; empty for others"),
    ("target.salutation", "what follows “Dear”: the target's salutation, else role and last name, else the name"),
    ("target.kind", "ceo, company, un_office, government, person, senator, representative, delegate"),
    ("target.state", "state, for members of Congress"),
    ("target.district", "district, for members of Congress (0: at large or a delegate)"),
    ("campaign.title", "the campaign's title"),
    ("campaign.slug", "the campaign's address"),
    ("today", "the date, e.g. November 29, 2026"),
)

# The insert-a-field buttons above the letter in the editor: the fields organizers reach for, in plain words.
FIELD_BUTTONS: tuple[tuple[str, str], ...] = (
    ("supporter.name", "Supporter's name"),
    ("supporter.first_name", "Their first name"),
    ("supporter.note", "Their own words"),
    ("supporter.zip", "Their ZIP code"),
    ("supporter.address", "Their address"),
    ("target.salutation", "How to address the target"),
    ("target.name", "Target's name"),
    ("target.title", "Target's title"),
    ("target.organization", "Target's organization"),
    ("campaign.title", "Campaign title"),
    ("today", "Today's date"),
)


class Invalid(ValueError):
    """Input the workspace can't use: field → messages, shown next to the fields (or as JSON from the API)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items()))
        self.errors = errors


class TemplateInvalid(Invalid):
    """A letter template refused by `check_template` (or by the settings around it), with field and line."""

    def __init__(self, problems: list[LetterTemplateError], errors: dict[str, list[str]] | None = None):
        merged = dict(errors or {})
        for problem in problems:
            merged.setdefault(problem.field, []).append(str(problem))
        super().__init__(merged)
        self.problems = problems


def slugify(text: str, limit: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-")


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


# ---- campaigns ------------------------------------------------------------------------------------------------


def find_campaign(slug: str) -> Campaign | None:
    if not slug or len(slug) > 80:
        return None
    return db.session.scalar(select(Campaign).where(Campaign.slug == slug))


def _check_title_summary(title: str, summary: str, errors: dict[str, list[str]]) -> None:
    if not title:
        errors.setdefault("title", []).append("Give the campaign a title.")
    elif len(title) > TITLE_MAX:
        errors.setdefault("title", []).append(f"Keep the title under {TITLE_MAX} characters.")
    else:
        _check_text(validation.single_line, title, "The title", TITLE_MAX, "title", errors)
    if len(summary) > SUMMARY_MAX:
        errors.setdefault("summary", []).append(f"Keep the summary under {SUMMARY_MAX:,} characters.")
    else:
        _check_text(validation.plain_text, summary, "The summary", SUMMARY_MAX, "summary", errors)


def _check_text(rule, value: str, what: str, limit: int, key: str, errors: dict[str, list[str]]) -> None:
    """The supporters' field rules for what organizers write too: no NUL (PostgreSQL refuses it) and no other
    control characters (a title is one line; a subject becomes a mail header)."""
    try:
        rule(value, what, limit)
    except validation.FieldError as exc:
        errors.setdefault(key, []).append(str(exc))


def create_campaign(
    organizer: Organizer, *, title: str, slug: str = "", summary: str = "", congress: bool = False
) -> Campaign:
    """A new, unpublished campaign that its creator runs (committed)."""
    title, summary = title.strip(), summary.strip()
    slug = (slug or "").strip().lower() or slugify(title)
    errors: dict[str, list[str]] = {}
    _check_title_summary(title, summary, errors)
    if not SLUG.match(slug):
        errors["slug"] = ["Use lower-case letters, digits and hyphens, like reunite-families."]
    elif find_campaign(slug) is not None:
        errors["slug"] = [f"There is already a campaign at /c/{slug}; pick another address."]
    if errors:
        raise Invalid(errors)
    position = (db.session.scalar(select(func.max(Campaign.position))) or 0) + 1
    campaign = Campaign(slug=slug, title=title, summary=summary, congress=congress, published=False, position=position)
    db.session.add(campaign)
    db.session.flush()
    accounts.add_member(campaign, organizer)
    db.session.commit()
    return campaign


def update_campaign(
    campaign: Campaign,
    *,
    title: str | None = None,
    summary: str | None = None,
    congress: bool | None = None,
    position: int | None = None,
) -> None:
    errors: dict[str, list[str]] = {}
    new_title = campaign.title if title is None else title.strip()
    new_summary = campaign.summary if summary is None else summary.strip()
    _check_title_summary(new_title, new_summary, errors)
    if errors:
        raise Invalid(errors)
    campaign.title, campaign.summary = new_title, new_summary
    if congress is not None:
        campaign.congress = congress
    if position is not None:
        campaign.position = position
    db.session.commit()


def publish_problems(campaign: Campaign) -> list[str]:
    """What keeps a campaign from being published: a dead end, an empty summary, a resource without a link, or
    nothing to do (webapp/campaigns/checks.py, the check `flask letters check` runs on files too)."""
    return checks.publish_problems(
        summary=campaign.summary or "",
        congress=bool(campaign.congress),
        targets=[target for target in campaign.targets if target.active],
        templates=active_templates(campaign),
        resources=[(resource.name, resource.url) for resource in campaign.resources],
    )


def set_published(campaign: Campaign, published: bool) -> None:
    if published:
        problems = publish_problems(campaign)
        if problems:
            raise Invalid({"published": problems})
    campaign.published = published
    db.session.commit()


def set_closed(campaign: Campaign, closed: bool) -> None:
    """Close (no more letters; the page thanks supporters and shows the totals) or reopen."""
    if closed and campaign.closed_at is None:
        campaign.closed_at = utcnow()
    elif not closed:
        campaign.closed_at = None
    db.session.commit()


def clean_update(date: Any, text: str) -> tuple[dt.date, str]:
    errors: dict[str, list[str]] = {}
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip())
        except ValueError:
            date = None
    if not isinstance(date, dt.date):
        errors["date"] = ["Give the date as YYYY-MM-DD."]
    try:
        text = validation.plain_text(text or "", "The update", UPDATE_MAX)
    except validation.FieldError as exc:
        errors["text"] = [str(exc)]
    else:
        if not text:
            errors["text"] = ["Write what changed, in a sentence or two."]
    if errors:
        raise Invalid(errors)
    return date, text


def add_update(campaign: Campaign, date: Any, text: str) -> CampaignUpdate:
    date, text = clean_update(date, text)
    update = CampaignUpdate(date=date, text=text)
    campaign.updates.append(update)
    db.session.commit()
    return update


def remove_update(campaign: Campaign, update_id: int) -> bool:
    update = next((u for u in campaign.updates if u.id == update_id), None)
    if update is None:
        return False
    campaign.updates.remove(update)
    db.session.commit()
    return True


def clean_resource(kind: str, name: str, url: str | None, description: str = "") -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    kind = (kind or "read").strip()
    name, url, description = (name or "").strip(), (url or "").strip() or None, (description or "").strip()
    if kind not in RESOURCE_KINDS:
        errors["kind"] = [f"Choose one of: {', '.join(RESOURCE_KINDS)}."]
    if not name or len(name) > 200:
        errors["name"] = ["Give it a name (up to 200 characters)."]
    if url is not None and (
        not url.startswith(("https://", "http://")) or len(url) > 500 or any(c.isspace() for c in url)
    ):
        errors["url"] = ["Links must start with https:// (or http://) — or leave it empty."]
    if len(description) > 1000:
        errors["description"] = ["Keep the description under 1,000 characters."]
    if errors:
        raise Invalid(errors)
    return {"kind": kind, "name": name, "url": url, "description": description}


def add_resource(campaign: Campaign, kind: str, name: str, url: str | None, description: str = "") -> Resource:
    values = clean_resource(kind, name, url, description)
    position = max((r.position for r in campaign.resources), default=-1) + 1
    resource = Resource(position=position, **values)
    campaign.resources.append(resource)
    db.session.commit()
    return resource


def remove_resource(campaign: Campaign, resource_id: int) -> bool:
    resource = next((r for r in campaign.resources if r.id == resource_id), None)
    if resource is None:
        return False
    campaign.resources.remove(resource)
    db.session.commit()
    return True


def replace_updates(campaign: Campaign, items: list[Mapping[str, Any]]) -> None:
    """The API's PUT: the campaign's updates become exactly these (not committed)."""
    cleaned = []
    for index, item in enumerate(items):
        try:
            cleaned.append(clean_update(item.get("date"), str(item.get("text") or "")))
        except Invalid as exc:
            raise Invalid({f"updates.{index}.{key}": messages for key, messages in exc.errors.items()}) from None
    campaign.updates = [CampaignUpdate(date=date, text=text) for date, text in cleaned]


def replace_resources(campaign: Campaign, items: list[Mapping[str, Any]]) -> None:
    cleaned = []
    for index, item in enumerate(items):
        try:
            cleaned.append(
                clean_resource(
                    str(item.get("kind") or "read"),
                    str(item.get("name") or ""),
                    item.get("url"),
                    str(item.get("description") or ""),
                )
            )
        except Invalid as exc:
            raise Invalid({f"resources.{index}.{key}": messages for key, messages in exc.errors.items()}) from None
    campaign.resources = [Resource(position=index, **values) for index, values in enumerate(cleaned)]


# ---- targets --------------------------------------------------------------------------------------------------


def clean_target(values: Mapping[str, Any], fields: tuple[str, ...] = TARGET_FIELDS) -> dict[str, Any]:
    """Target fields checked and normalized by the one target schema, for the fields given; raises Invalid with
    every problem."""
    try:
        return content.clean_target(values, fields)
    except content.ContentInvalid as exc:
        raise Invalid(exc.errors) from None


def _campaign_target_ids(campaign: Campaign) -> list[str]:
    return [link.target_id for link in campaign.target_links]


def add_target(campaign: Campaign, organizer: Organizer, values: Mapping[str, Any], target_id: str = "") -> Target:
    """A new target for this campaign (committed). Its id is stable: totals are kept under it."""
    cleaned = clean_target(values)
    target_id = (target_id or "").strip().lower() or slugify(cleaned["name"], 64)
    if not content.TARGET_ID.match(target_id):
        raise Invalid({"id": [content.TARGET_ID_RULE]})
    existing = db.session.get(Target, target_id)
    if existing is not None and target_id in _campaign_target_ids(campaign):
        raise Invalid({"id": [f"{existing.name} ({target_id}) is already in this campaign."]})
    _check_write(organizer, campaign, target_id, "add", target=existing, kind=cleaned["kind"])
    target = Target(id=target_id, active=True, extra={}, **cleaned)
    db.session.add(target)
    _link(campaign, target)
    db.session.commit()
    return target


def _check_write(organizer: permissions.Actor, campaign: Campaign, target_id: str, action, **known) -> None:
    """The one permission rule for writes to targets (webapp/organizers/permissions.py), as a field error."""
    try:
        permissions.check(organizer, campaign, target_id, action, **known)
    except permissions.TargetWriteRefused as exc:
        raise Invalid({"id": [exc.message]}) from None


def _link(campaign: Campaign, target: Target) -> None:
    position = max((link.position for link in campaign.target_links), default=-1) + 1
    campaign.target_links.append(CampaignTarget(target=target, target_id=target.id, position=position))


def update_target(campaign: Campaign, organizer: Organizer, target_id: str, values: Mapping[str, Any]) -> list[str]:
    """Change a campaign target's details (committed); returns the fields that changed."""
    target = campaign_target(campaign, target_id)
    if target is None:
        raise Invalid({"id": [f"{target_id} is not one of this campaign's targets."]})
    _check_write(organizer, campaign, target_id, "update", target=target)
    cleaned = clean_target(values)
    changed = [key for key, value in cleaned.items() if getattr(target, key) != value]
    for key in changed:
        setattr(target, key, cleaned[key])
    db.session.commit()
    return changed


def campaign_target(campaign: Campaign, target_id: str) -> Target | None:
    return next((link.target for link in campaign.target_links if link.target_id == target_id), None)


def remove_target(campaign: Campaign, organizer: permissions.Actor, target_id: str) -> list[str]:
    """Stop writing to a target in this campaign (its totals stay). Letters aimed only at it are retired."""
    link = next((link for link in campaign.target_links if link.target_id == target_id), None)
    if link is None:
        return []
    _check_write(organizer, campaign, target_id, "unlink")
    author = organizer.email
    notes = []
    for template in campaign.templates:
        if target_id in (template.target_ids or []):
            remaining = [t for t in template.target_ids if t != target_id]
            _save_content(template, {"target_ids": remaining}, author, note=f"{target_id} removed from the campaign")
            if not remaining and not template.target_kinds and template.active:
                template.active = False
                notes.append(f"“{template.name}” was only for this target, so it is retired.")
            else:
                notes.append(f"“{template.name}” no longer goes to this target.")
    campaign.target_links.remove(link)
    db.session.commit()
    return notes


# ---- CSV import of targets ------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("id", *TARGET_FIELDS)


@dataclass
class ImportRow:
    line: int
    target_id: str
    name: str
    action: str  # add, link (an existing target joins the campaign), update, unchanged, error
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    rows: list[ImportRow]
    columns: list[str]
    problems: list[str] = field(default_factory=list)  # about the file as a whole

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def applicable(self) -> list[ImportRow]:
        return [row for row in self.rows if row.action in ("add", "link", "update")]

    @property
    def fingerprint(self) -> str:
        """Identifies what applying would do, so the confirmation applies exactly what the preview showed."""
        text = repr([(row.target_id, row.action, row.changes) for row in self.rows])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def plan_import(campaign: Campaign, organizer: Organizer, text: str) -> ImportPlan:
    """What importing this CSV would change, row by row; nothing is written."""
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    columns = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    plan = ImportPlan(rows=[], columns=columns)
    if "name" not in columns and "id" not in columns:
        plan.problems.append(
            "The first row must name the columns, with at least “name” (see the list of columns below)."
        )
        return plan
    unknown = [c for c in columns if c and c not in IMPORT_COLUMNS]
    if unknown:
        plan.problems.append(f"These columns are not target fields and are ignored: {', '.join(unknown)}.")
    fields = tuple(f for f in TARGET_FIELDS if f in columns or f == "kind")
    in_campaign = set(_campaign_target_ids(campaign))
    seen: set[str] = set()
    try:
        raw_rows = list(reader)
    except csv.Error as exc:
        plan.problems.append(f"The file is not valid CSV: {exc}.")
        return plan
    if len(raw_rows) > IMPORT_ROWS_MAX:
        plan.problems.append(f"Import at most {IMPORT_ROWS_MAX:,} targets at a time.")
        return plan
    for index, raw in enumerate(raw_rows):
        row_values = {
            (key or "").strip().lower(): dashboard.read_cell(value or "")
            for key, value in raw.items()
            if isinstance(value, str)
        }
        line = index + 1  # the row's number among the data rows, as a spreadsheet shows it below the header
        name = row_values.get("name", "").strip()
        target_id = row_values.get("id", "").strip().lower() or slugify(name, 64)
        row = ImportRow(line=line, target_id=target_id, name=name, action="add")
        plan.rows.append(row)
        if not any(value.strip() for value in row_values.values()):
            row.action = "unchanged"
            row.errors.append("empty row, skipped")
            continue
        existing = db.session.get(Target, target_id) if target_id else None
        if existing is not None and "kind" not in columns:
            row_values["kind"] = existing.kind
        try:
            values = clean_target(row_values, fields)
        except Invalid as exc:
            row.action = "error"
            row.errors += [message for messages in exc.errors.values() for message in messages]
            continue
        if not content.TARGET_ID.match(target_id):
            row.action, row.errors = "error", ["the id must be lower-case letters, digits and hyphens"]
            continue
        if target_id in seen:
            row.action, row.errors = "error", [f"{target_id} appears twice in the file"]
            continue
        seen.add(target_id)
        row.values = values
        if existing is None:
            row.changes = [(key, None, value) for key, value in values.items() if value]
            problem = permissions.refusal(organizer, campaign, target_id, "add", kind=values.get("kind", ""))
            if problem is not None:
                row.action, row.errors, row.changes = "error", [problem], []
            continue
        row.changes = [
            (key, getattr(existing, key), value) for key, value in values.items() if getattr(existing, key) != value
        ]
        if target_id not in in_campaign:
            row.action = "link"
        else:
            row.action = "update" if row.changes else "unchanged"
        row.name = name or existing.name
        if row.action in ("link", "update"):
            problem = permissions.refusal(organizer, campaign, target_id, row.action, target=existing)
            if problem is not None:
                row.action, row.errors, row.changes = "error", [problem], []
    return plan


def apply_import(campaign: Campaign, organizer: Organizer, plan: ImportPlan) -> dict[str, int]:
    """Apply a plan from `plan_import` (rows with errors are skipped) in one transaction.

    Every row is asked again, of the targets as they are now: a target may have become shared since the preview.
    Raises Invalid (and writes nothing) if any row is refused.
    """
    counts = {"add": 0, "link": 0, "update": 0}
    refused = []
    for row in plan.applicable:
        problem = permissions.refusal(organizer, campaign, row.target_id, row.action, kind=row.values.get("kind", ""))
        if problem is not None:
            refused.append(f"Line {row.line}: {problem}")
    if refused:
        raise Invalid({"csv_text": refused})
    for row in plan.applicable:
        target = db.session.get(Target, row.target_id)
        if target is None:
            target = Target(id=row.target_id, active=True, extra={}, **{"kind": "person", "name": row.name})
            db.session.add(target)
        for key, value in row.values.items():
            setattr(target, key, value)
        if row.action in ("add", "link"):
            _link(campaign, target)
        counts[row.action] += 1
    db.session.commit()
    return counts


# ---- target health --------------------------------------------------------------------------------------------


@dataclass
class TargetHealth:
    target: Target
    sent: int = 0
    handed_off: int = 0
    confirmed: int = 0
    failed: int = 0  # every failed letter, as the totals count them
    failed_at_target: int = 0  # those whose reason may lie with the target (not a supporter's wrong password…)
    last_failure: str | None = None  # the last of those
    last_failure_at: dt.datetime | None = None

    @property
    def channels(self) -> list[str]:
        return self.target.channels

    @property
    def failed_elsewhere(self) -> int:
        """Failures on the supporter's side (a wrong password, a full quota, a refused sender address …)."""
        return max(0, self.failed - self.failed_at_target)

    @property
    def failure_share(self) -> float:
        """The share of the letters that reached a point where the target mattered and failed there."""
        tried = self.sent + self.failed_at_target
        return self.failed_at_target / tried if tried else 0.0


def _at_target():
    """A failed letter whose reason may lie with the target: every kind but the supporter's (or this site's)
    own, and rows older than the kinds."""
    return (Letter.status == FAILED) & (Letter.failure_kind.is_(None) | Letter.failure_kind.not_in(NOT_THE_TARGETS))


def target_health(campaign: Campaign) -> list[TargetHealth]:
    """Each campaign target's totals, how many of its failures may point at the target (a refused recipient,
    a refused letter), and the last such reason. A supporter's own trouble (a wrong password, a sign-in that
    ran out, a full quota, a refused sender address, their server unreachable) never counts against it."""
    totals = {row.target_id: row for row in campaign_totals(db.session, campaign).targets}
    at_target = dict(
        db.session.execute(
            select(Letter.target_id, func.count())
            .where(Letter.campaign_id == campaign.id, _at_target())
            .group_by(Letter.target_id)
        ).all()
    )
    rows = []
    for target in campaign.targets:
        counts = totals.get(target.id)
        health = TargetHealth(target, failed_at_target=at_target.get(target.id, 0))
        if counts is not None:
            health.sent, health.handed_off, health.confirmed, health.failed = (
                counts.sent,
                counts.handed_off,
                counts.confirmed,
                counts.failed,
            )
        if health.failed_at_target:
            last = db.session.execute(
                select(Letter.error, Letter.finished_at)
                .where(Letter.campaign_id == campaign.id, Letter.target_id == target.id, _at_target())
                .order_by(Letter.finished_at.desc().nulls_last(), Letter.created_at.desc())
                .limit(1)
            ).first()
            if last is not None:
                health.last_failure, health.last_failure_at = last.error or "failed (no reason kept)", last.finished_at
        rows.append(health)
    return rows


# ---- letter templates -----------------------------------------------------------------------------------------


@dataclass
class TemplateInput:
    name: str
    subject: str
    body: str
    target_ids: list[str] = field(default_factory=list)
    target_kinds: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    min_note_length: int = 0
    slug: str = ""
    salutation_and_signoff: bool = False
    # Library of Congress topics for letters delivered through CWC: a setting kept beside the versions, not in them.
    cwc_topics: list[str] = field(default_factory=list)
    language: str | None = None  # None: the template's own (English for a new one)
    # Other languages' versions, {"es": {"name", "subject", "body"}}; None keeps the template's as they are.
    translations: dict[str, dict[str, str]] | None = None

    def content(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"language": (self.language or "en").strip().lower()} if self.language else {}
        if self.translations is not None:
            extra["translations"] = {
                language: {
                    "name": (text.get("name") or "").strip(),
                    "subject": (text.get("subject") or "").strip(),
                    "body": normalize_body(text.get("body") or ""),
                }
                for language, text in self.translations.items()
            }
        return extra | {
            "name": self.name.strip(),
            "subject": self.subject.strip(),
            "body": normalize_body(self.body),
            "target_ids": list(dict.fromkeys(self.target_ids)),
            "target_kinds": list(dict.fromkeys(self.target_kinds)),
            "channels": list(dict.fromkeys(self.channels)),
            "min_note_length": int(self.min_note_length or 0),
            "salutation_and_signoff": bool(self.salutation_and_signoff),
        }


def template_kinds(campaign: Campaign, target_ids: list[str], kinds: list[str]) -> list[str]:
    """The kinds of target a template must render for: its kinds and the kinds of its targets."""
    by_id = {target.id: target.kind for target in campaign.targets}
    return sorted({*kinds, *(by_id[t] for t in target_ids if t in by_id)})


def check_template_input(
    campaign: Campaign, data: TemplateInput
) -> tuple[dict[str, list[str]], list[LetterTemplateError]]:
    """Every problem with a template and its settings, by the one template schema (webapp/campaigns/content.py):
    the settings' rules, then `check_template` (the one check `flask letters check`, file loading and the tests use)."""
    letter = TemplateContent.model_validate({**data.content(), "cwc_topics": list(data.cwc_topics or [])})
    return letter.check({target.id: target.kind for target in campaign.targets})


def template_warnings(campaign: Campaign, template: LetterTemplate) -> list[str]:
    """Things that aren't errors but that an organizer would want to know before supporters notice."""
    warnings = []
    chosen = [t for t in campaign.targets if t.id in (template.target_ids or [])]
    for target in chosen:
        if not template.channels_for(target):
            reason = target.no_email_reason if set(template.channels) <= set(EMAIL_CHANNELS) else None
            warnings.append(
                f"{target.name} can't be reached by any of the chosen ways yet"
                + (f": {reason}" if reason else " (add their email, contact form, phone or postal address).")
            )
    if set(template.target_kinds or []) & set(LEGISLATOR_KINDS) and not campaign.congress:
        warnings.append(
            "This letter is for members of Congress, but the campaign doesn't offer writing to them (see Settings)."
        )
    if set(template.target_kinds or []) & set(LEGISLATOR_KINDS) and set(template.channels) <= set(EMAIL_CHANNELS):
        warnings.append("Members of Congress publish no email addresses: add the contact form or printed-letter way.")
    return warnings


RESERVED_SLUGS = frozenset({"new", "preview"})  # workspace addresses under /letters/


def _unique_template_slug(campaign: Campaign, wanted: str) -> str:
    taken = {t.slug for t in campaign.templates} | RESERVED_SLUGS
    base = wanted or "letter"
    slug, number = base, 2
    while slug in taken:
        slug = f"{base[:75]}-{number}"
        number += 1
    return slug


def _same(key: str, old: Any, new: Any) -> bool:
    """Whether a content field is unchanged; the order of targets, kinds and channels means nothing."""
    if key in ("target_ids", "target_kinds", "channels"):
        return sorted(set(old or [])) == sorted(set(new or []))
    return old == new


def _save_content(template: LetterTemplate, content: Mapping[str, Any], author: str, note: str = "") -> bool:
    """Apply content changes; a change is a new version, kept. Returns whether anything changed (not committed)."""
    changed = [key for key, value in content.items() if not _same(key, getattr(template, key), value)]
    if not changed:
        return False
    for key in changed:
        setattr(template, key, content[key])
    template.version = (template.version or 0) + 1
    db.session.add(TemplateVersion.snapshot(template, author=author, note=note))
    return True


def save_template(
    campaign: Campaign,
    data: TemplateInput,
    *,
    author: str,
    slug: str | None = None,
    base_version: int | None = None,
) -> tuple[LetterTemplate, bool]:
    """Create (slug None) or change a letter template after checking it; returns it and whether it changed.

    Raises TemplateInvalid with every problem (field and line), so a broken letter never reaches supporters,
    or Invalid when someone else saved a newer version since `base_version` was loaded.
    """
    template = None
    if slug is not None:
        template = next((t for t in campaign.templates if t.slug == slug), None)
        if template is None:
            raise Invalid({"slug": [f"No letter '{slug}' in this campaign."]})
        if data.language is None:
            data.language = template.language or "en"
    errors, problems = check_template_input(campaign, data)
    if template is None:
        wanted = (data.slug or "").strip().lower()
        if wanted and not SLUG.match(wanted):
            errors["slug"] = ["Use lower-case letters, digits and hyphens for the file name, like ask-the-ceo."]
        elif wanted and (wanted in RESERVED_SLUGS or any(t.slug == wanted for t in campaign.templates)):
            errors["slug"] = [f"There is already a letter called {wanted} in this campaign."]
    if errors or problems:
        raise TemplateInvalid(problems, errors)
    if template is not None and base_version is not None and base_version != template.version:
        raise Invalid(
            {
                "version": [
                    f"Someone saved this letter (now version {template.version}) after you opened it. Your text is "
                    "still here: look at the versions list to see their change, then save again to replace it."
                ]
            }
        )
    content = data.content()
    if template is None:
        position = max((t.position for t in campaign.templates), default=-1) + 1
        template = LetterTemplate(
            slug=_unique_template_slug(campaign, (data.slug or "").strip().lower() or slugify(content["name"])),
            version=1,
            position=position,
            active=False,  # a new letter is a draft until an organizer publishes it
            cwc_topics=list(dict.fromkeys(data.cwc_topics or [])),
            **content,
        )
        campaign.templates.append(template)
        db.session.add(TemplateVersion.snapshot(template, author=author, note="created"))
        db.session.commit()
        return template, True
    changed = _save_content(template, content, author)
    topics = list(dict.fromkeys(data.cwc_topics or []))
    if sorted(template.cwc_topics or []) != sorted(topics):  # the form lists them in its own order
        template.cwc_topics, changed = topics, True
    db.session.commit()
    return template, changed


def find_template(campaign: Campaign, slug: str) -> LetterTemplate | None:
    return next((t for t in campaign.templates if t.slug == slug), None)


def versions_of(template: LetterTemplate) -> list[TemplateVersion]:
    return list(
        db.session.scalars(
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template.id)
            .order_by(TemplateVersion.version.desc())
        )
    )


def letters_per_template(campaign: Campaign) -> dict[int, int]:
    """How many letters each of the campaign's templates has written: one query on the template index."""
    ids = [template.id for template in campaign.templates]
    return dict(
        db.session.execute(
            select(Letter.template_id, func.count()).where(Letter.template_id.in_(ids)).group_by(Letter.template_id)
        ).all()
    )


def letters_per_version(template: LetterTemplate) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Letter.template_version, func.count())
            .where(Letter.template_id == template.id)
            .group_by(Letter.template_version)
        ).all()
    )


def restore_version(campaign: Campaign, template: LetterTemplate, version: int, author: str) -> LetterTemplate:
    """Make an older version current again, as a new version (the newer ones stay kept)."""
    old = db.session.scalar(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id, TemplateVersion.version == version)
    )
    if old is None:
        raise Invalid({"version": [f"There is no version {version} of this letter."]})
    data = template_input(template, old)
    in_campaign = set(_campaign_target_ids(campaign))
    data.target_ids = [t for t in data.target_ids if t in in_campaign]
    errors, problems = check_template_input(campaign, data)
    if errors or problems:
        raise TemplateInvalid(problems, errors)
    _save_content(template, data.content(), author, note=f"restored from version {version}")
    db.session.commit()
    return template


def missing_translations(template: LetterTemplate) -> list[str]:
    """The languages supporters read that this letter has no version in (the workspace lists them)."""
    return [language for language in SUPPORTER_LANGUAGES if language not in template.languages]


def template_input(template: LetterTemplate, version: TemplateVersion | None = None) -> TemplateInput:
    """A template as it is now (its text and settings as `version` kept them, when given), as the input that would
    save it: with the template's current CWC topics, a setting kept beside the versions, which the check needs."""
    text = version or template
    return TemplateInput(
        name=text.name,
        subject=text.subject,
        body=text.body,
        target_ids=list(text.target_ids or []),
        target_kinds=list(text.target_kinds or []),
        channels=list(text.channels or []),
        min_note_length=text.min_note_length or 0,
        salutation_and_signoff=bool(text.salutation_and_signoff),
        cwc_topics=list(template.cwc_topics or []),
        language=text.language or "en",
        translations={language: dict(words) for language, words in (text.translations or {}).items()},
    )


def save_translation(
    campaign: Campaign,
    template: LetterTemplate,
    language: str,
    text: Mapping[str, str] | None,
    *,
    author: str,
    base_version: int | None = None,
) -> bool:
    """Add, change or (text None) remove one language's version of a letter: checked like the letter itself, and a
    new version of it, kept. Returns whether anything changed."""
    data = template_input(template)
    translations = dict(data.translations or {})
    if text is None:
        translations.pop(language, None)
    else:
        translations[language] = {key: text.get(key) or "" for key in ("name", "subject", "body")}
    data.translations = translations
    errors, problems = check_template_input(campaign, data)
    if problems:  # the letter's own text has a problem (an older version restored by hand?): say so
        raise TemplateInvalid(problems, errors)
    if errors:
        raise Invalid(errors)
    if base_version is not None and base_version != template.version:
        raise Invalid(
            {
                "version": [
                    f"Someone saved this letter (now version {template.version}) after you opened it. Your text is "
                    "still here: look at the versions list to see their change, then save again to replace it."
                ]
            }
        )
    note = f"{language_name(language, 'en')} {'removed' if text is None else 'version'}"
    changed = _save_content(template, {"translations": data.content()["translations"]}, author, note=note)
    db.session.commit()
    return changed


def set_template_active(template: LetterTemplate, active: bool) -> None:
    template.active = active
    db.session.commit()


# ---- live preview ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewTarget:
    ref: str
    label: str
    variables: dict[str, Any]


def preview_targets(campaign: Campaign) -> list[PreviewTarget]:
    """Who the preview can address: the campaign's targets, then a sample of each kind of member of Congress."""
    found = [PreviewTarget(t.id, t.name, target_variables(t)) for t in campaign.targets]
    for kind in LEGISLATOR_KINDS:
        sample = SAMPLE_TARGETS[kind]
        found.append(PreviewTarget(f"sample-{kind}", f"Sample {kind}: {sample['salutation']}", sample))
    for kind in CUSTOM_KINDS:
        sample = SAMPLE_TARGETS[kind]
        found.append(PreviewTarget(f"sample-{kind}", f"Sample {KIND_NAMES[kind].lower()}: {sample['name']}", sample))
    return found


def preview(
    campaign: Campaign,
    *,
    subject: str,
    body: str,
    target_ref: str,
    with_note: bool = True,
    channels: list[str] | None = None,
    target_ids: list[str] | None = None,
    target_kinds: list[str] | None = None,
    salutation_and_signoff: bool = False,
) -> dict[str, Any]:
    """The letter as a sample supporter would see it for one target, and every problem the save would refuse."""
    targets = preview_targets(campaign)
    target = next((t for t in targets if t.ref == target_ref), targets[0] if targets else None)
    is_call = (channels or []) == [CALL]
    kinds = template_kinds(campaign, target_ids or [], target_kinds or [])
    normalized = normalize_body(body)
    framed = salutation_and_signoff and not is_call
    problems = framing.problems(
        subject, normalized, salutation_and_signoff=framed, target_kinds=kinds or None, require_note=not is_call
    )
    result: dict[str, Any] = {
        "target": target.label if target else "",
        "problems": [problem_view(p, subject, body) for p in problems],
        "subject": "",
        "body": "",
    }
    if target is None:
        return result
    supporter = dict(SAMPLE_SUPPORTER) if with_note else {**SAMPLE_SUPPORTER, "note": ""}
    context = context_for(
        supporter=supporter, target=target.variables, campaign={"title": campaign.title, "slug": campaign.slug}
    )
    try:
        letter = render(subject, framing.full_body(normalized, framed), context)
    except LetterTemplateError as exc:
        view = problem_view(framing.in_own_words(exc, normalized) if framed else exc, subject, body)
        if view not in result["problems"]:
            result["problems"].append(view)
        return result
    result["subject"], result["body"] = letter.subject, letter.body
    return result


def problem_view(problem: LetterTemplateError, subject: str, body: str) -> dict[str, Any]:
    """A template problem as the editor shows it: the field, the line number and the text of that line."""
    source = subject if problem.field == "subject" else body
    lines = source.replace("\r\n", "\n").split("\n")
    text = lines[problem.line - 1] if problem.line and 0 < problem.line <= len(lines) else None
    return {
        "field": problem.field,
        "line": problem.line,
        "message": problem.message,
        "text": text,
        "error": str(problem),
    }
