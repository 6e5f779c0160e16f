"""Campaigns: loading them from files (idempotently) and finding what a supporter may act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.campaigns.files import CampaignSpec, read_all
from webapp.extensions import db
from webapp.models import CALL, Campaign, CampaignTarget, CampaignUpdate, LetterTemplate, Resource, Target


@dataclass
class LoadReport:
    """What one load changed, per campaign, in words for the terminal."""

    lines: list[str] = field(default_factory=list)
    changed: bool = False

    def note(self, line: str, changed: bool = True) -> None:
        self.lines.append(line)
        self.changed = self.changed or changed


def _assign(obj: object, values: dict) -> list[str]:
    """Set attributes that differ; return their names."""
    changed = []
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed.append(key)
    return changed


def _target_values(spec: dict) -> dict:
    values = {
        key: spec.get(key) or ""
        for key in ("name", "first_name", "last_name", "title", "organization", "salutation", "note")
    }
    values.update(
        {key: spec.get(key) or None for key in ("email", "phone", "contact_form", "website", "postal_address")}
    )
    values["kind"] = spec["kind"]
    values["active"] = True
    return values


def apply_campaign(spec: CampaignSpec, report: LoadReport) -> Campaign:
    """Make the database match one campaign folder, touching only what differs."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    created = campaign is None
    if created:
        campaign = Campaign(slug=spec.slug)
        db.session.add(campaign)
    changes = _assign(
        campaign,
        {
            "title": spec.title,
            "summary": spec.summary,
            "congress": spec.congress,
            "published": spec.published,
            "position": spec.position,
        },
    )
    db.session.flush()

    wanted_updates = [(date, text) for date, text in spec.updates]
    if sorted((u.date, u.text) for u in campaign.updates) != sorted(wanted_updates):
        campaign.updates = [CampaignUpdate(date=date, text=text) for date, text in wanted_updates]
        changes.append("updates")

    existing_resources = [(r.kind, r.name, r.url, r.description) for r in campaign.resources]
    wanted_resources = [(r["kind"], r["name"], r["url"], r["description"] or "") for r in spec.resources]
    if existing_resources != wanted_resources:
        campaign.resources = [
            Resource(kind=kind, name=name, url=url, description=description, position=index)
            for index, (kind, name, url, description) in enumerate(wanted_resources)
        ]
        changes.append("resources")

    for target_spec in spec.targets:
        target = db.session.get(Target, target_spec["id"])
        if target is None:
            target = Target(id=target_spec["id"])
            db.session.add(target)
            _assign(target, _target_values(target_spec))
            changes.append(f"target {target.id} added")
        elif fields := _assign(target, _target_values(target_spec)):
            changes.append(f"target {target.id} ({', '.join(fields)})")
    wanted_links = [t["id"] for t in spec.targets]
    if [link.target_id for link in campaign.target_links] != wanted_links:
        campaign.target_links = [
            CampaignTarget(target_id=target_id, position=index) for index, target_id in enumerate(wanted_links)
        ]
        changes.append("target list")

    by_slug = {template.slug: template for template in campaign.templates}
    for position, template_spec in enumerate(spec.templates):
        template = by_slug.pop(template_spec.slug, None)
        values = {
            "name": template_spec.name,
            "target_ids": template_spec.targets,
            "target_kinds": template_spec.kinds,
            "channels": template_spec.channels,
            "position": position,
            "active": True,
        }
        if template is None:
            template = LetterTemplate(
                slug=template_spec.slug, subject=template_spec.subject, body=template_spec.body, version=1, **values
            )
            campaign.templates.append(template)
            changes.append(f"letter {template.slug} added")
            continue
        fields = _assign(template, values)
        text_fields = _assign(template, {"subject": template_spec.subject, "body": template_spec.body})
        if text_fields:
            template.version += 1
        if fields or text_fields:
            changes.append(f"letter {template.slug} ({', '.join(fields + text_fields)}; now v{template.version})")
    for template in by_slug.values():
        if template.active:
            template.active = False  # letters written with it keep pointing at it
            changes.append(f"letter {template.slug} retired")

    if created:
        report.note(f"{spec.slug}: added ({len(spec.templates)} letters, {len(spec.targets)} targets)")
    elif changes:
        report.note(f"{spec.slug}: updated: {'; '.join(changes)}")
    else:
        report.note(f"{spec.slug}: unchanged", changed=False)
    return campaign


def load_campaigns(root: Path) -> LoadReport:
    """Load every campaign folder under `root` in one transaction (all or nothing)."""
    specs = read_all(root)
    report = LoadReport()
    try:
        for spec in specs:
            apply_campaign(spec, report)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def published_campaigns() -> list[Campaign]:
    return list(
        db.session.scalars(
            select(Campaign).where(Campaign.published.is_(True)).order_by(Campaign.position, Campaign.title)
        )
    )


def find_campaign(slug: str) -> Campaign | None:
    """A published campaign with what its page needs loaded in a few queries."""
    return db.session.scalar(
        select(Campaign)
        .where(Campaign.slug == slug, Campaign.published.is_(True))
        .options(
            selectinload(Campaign.updates),
            selectinload(Campaign.resources),
            selectinload(Campaign.templates),
            selectinload(Campaign.target_links),
        )
    )


def active_templates(campaign: Campaign) -> list[LetterTemplate]:
    return [template for template in campaign.templates if template.active]


def letter_templates(campaign: Campaign) -> list[LetterTemplate]:
    """Letters supporters write (everything but call scripts)."""
    return [template for template in active_templates(campaign) if CALL not in template.channels]


def call_scripts(campaign: Campaign) -> list[LetterTemplate]:
    """Templates whose only channel is a phone call: what a supporter says, not what they send."""
    return [template for template in active_templates(campaign) if template.channels == [CALL]]


def campaign_targets(campaign: Campaign) -> list[Target]:
    """The campaign's own targets that are still offered."""
    return [target for target in campaign.targets if target.active]


def templates_for(campaign: Campaign, target: Target) -> list[LetterTemplate]:
    return [template for template in active_templates(campaign) if template.fits(target)]
