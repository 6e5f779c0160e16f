"""A campaign's own settings in the workspace: creating it, its title and summary, publishing and closing it, its
dated updates and its resources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from webapp.campaigns import checks
from webapp.campaigns.service import active_templates
from webapp.core import validation
from webapp.extensions import db
from webapp.models import Campaign, CampaignUpdate, Resource, utcnow
from webapp.organize.invalid import Invalid
from webapp.organize.names import SLUG, slugify
from webapp.organizers import accounts
from webapp.organizers.models import Organizer

RESOURCE_KINDS = {"donate": "Donate", "petition": "Petition", "read": "Read more"}
TITLE_MAX, SUMMARY_MAX, UPDATE_MAX = 200, 2000, 2000


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
    """A new, unpublished campaign that its creator runs (flushed, so it has its id)."""
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
    db.session.flush()
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
    db.session.flush()


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
    db.session.flush()


def set_closed(campaign: Campaign, closed: bool) -> None:
    """Close (no more letters; the page thanks supporters and shows the totals) or reopen."""
    if closed and campaign.closed_at is None:
        campaign.closed_at = utcnow()
    elif not closed:
        campaign.closed_at = None
    db.session.flush()


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
    db.session.flush()
    return update


def remove_update(campaign: Campaign, update_id: int) -> bool:
    update = next((u for u in campaign.updates if u.id == update_id), None)
    if update is None:
        return False
    campaign.updates.remove(update)
    db.session.flush()
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
    db.session.flush()
    return resource


def remove_resource(campaign: Campaign, resource_id: int) -> bool:
    resource = next((r for r in campaign.resources if r.id == resource_id), None)
    if resource is None:
        return False
    campaign.resources.remove(resource)
    db.session.flush()
    return True


def replace_updates(campaign: Campaign, items: list[Mapping[str, Any]]) -> None:
    """The API's PUT: the campaign's updates become exactly these."""
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
