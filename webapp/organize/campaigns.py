"""A campaign's own settings in the workspace: creating it, its title and summary, publishing and closing it, its
dated updates and its resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from webapp.campaigns import checks
from webapp.campaigns.content import SLUG, SLUG_RULE, campaign_text_problems, clean_resource, clean_update
from webapp.campaigns.service import active_templates
from webapp.extensions import db
from webapp.models import Campaign, CampaignUpdate, Resource, utcnow
from webapp.organize.invalid import Invalid
from webapp.organize.names import slugify
from webapp.organizers import accounts
from webapp.organizers.models import Organizer


def find_campaign(slug: str) -> Campaign | None:
    if not slug or len(slug) > 80:
        return None
    return db.session.scalar(select(Campaign).where(Campaign.slug == slug))


def create_campaign(
    organizer: Organizer, *, title: str, slug: str = "", summary: str = "", congress: bool = False
) -> Campaign:
    """A new, unpublished campaign that its creator runs (flushed, so it has its id)."""
    title, summary = title.strip(), summary.strip()
    slug = (slug or "").strip().lower() or slugify(title)
    errors = campaign_text_problems(title, summary)
    if not SLUG.match(slug):
        errors["slug"] = [SLUG_RULE]
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
    new_title = campaign.title if title is None else title.strip()
    new_summary = campaign.summary if summary is None else summary.strip()
    if errors := campaign_text_problems(new_title, new_summary, position):
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
            raise Invalid(exc.under(f"updates.{index}")) from None
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
            raise Invalid(exc.under(f"resources.{index}")) from None
    campaign.resources = [Resource(position=index, **values) for index, values in enumerate(cleaned)]
