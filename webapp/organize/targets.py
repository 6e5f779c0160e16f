"""A campaign's targets in the workspace: adding, changing and removing them, each write asked of the one
permission rule (webapp/organizers/permissions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webapp.campaigns import content
from webapp.extensions import db
from webapp.models import Campaign, CampaignTarget, Target
from webapp.organize.invalid import Invalid
from webapp.organize.letter_templates import save_content
from webapp.organize.names import slugify
from webapp.organizers import permissions
from webapp.organizers.models import Organizer


def campaign_target_ids(campaign: Campaign) -> list[str]:
    return [link.target_id for link in campaign.target_links]


def add_target(campaign: Campaign, organizer: Organizer, values: Mapping[str, Any], target_id: str = "") -> Target:
    """A new target for this campaign (flushed). Its id is stable: totals are kept under it."""
    cleaned = content.clean_target(values)
    target_id = (target_id or "").strip().lower() or slugify(cleaned["name"], 64)
    if not content.TARGET_ID.match(target_id):
        raise Invalid({"id": [content.TARGET_ID_RULE]})
    existing = db.session.get(Target, target_id)
    if existing is not None and target_id in campaign_target_ids(campaign):
        raise Invalid({"id": [f"{existing.name} ({target_id}) is already in this campaign."]})
    _check_write(organizer, campaign, target_id, "add", target=existing, kind=cleaned["kind"])
    target = Target(id=target_id, active=True, extra={}, **cleaned)
    db.session.add(target)
    link_target(campaign, target)
    db.session.flush()
    return target


def _check_write(organizer: permissions.Actor, campaign: Campaign, target_id: str, action, **known) -> None:
    """The one permission rule for writes to targets (webapp/organizers/permissions.py), as a field error."""
    try:
        permissions.check(organizer, campaign, target_id, action, **known)
    except permissions.TargetWriteRefused as exc:
        raise Invalid({"id": [exc.message]}) from None


def link_target(campaign: Campaign, target: Target) -> None:
    position = max((link.position for link in campaign.target_links), default=-1) + 1
    campaign.target_links.append(CampaignTarget(target=target, target_id=target.id, position=position))


def update_target(campaign: Campaign, organizer: Organizer, target_id: str, values: Mapping[str, Any]) -> list[str]:
    """Change a campaign target's details (flushed); returns the fields that changed."""
    target = campaign_target(campaign, target_id)
    if target is None:
        raise Invalid({"id": [f"{target_id} is not one of this campaign's targets."]})
    _check_write(organizer, campaign, target_id, "update", target=target)
    cleaned = content.clean_target(values)
    changed = [key for key, value in cleaned.items() if getattr(target, key) != value]
    for key in changed:
        setattr(target, key, cleaned[key])
    db.session.flush()
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
            save_content(template, {"target_ids": remaining}, author, note=f"{target_id} removed from the campaign")
            if not remaining and not template.target_kinds and template.active:
                template.active = False
                notes.append(f"“{template.name}” was only for this target, so it is retired.")
            else:
                notes.append(f"“{template.name}” no longer goes to this target.")
    campaign.target_links.remove(link)
    db.session.flush()
    return notes
