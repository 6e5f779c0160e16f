"""Campaigns: loading them from files (idempotently) and finding what a supporter may act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.campaigns.cache import get_cache
from webapp.campaigns.content import (
    SLUG,
    TARGET_FIELDS,
    TARGET_ID,
    TARGET_ID_RULE,
    TARGET_OPTIONAL_FIELDS,
    TARGET_TEXT_FIELDS,
)
from webapp.campaigns.files import (
    CAMPAIGN_FILE,
    CampaignFileError,
    CampaignSpec,
    TemplateSpec,
    digest,
    read_all,
    read_campaign,
    write_campaign,
)
from webapp.extensions import db
from webapp.models import (
    CALL,
    Campaign,
    CampaignTarget,
    CampaignUpdate,
    LetterTemplate,
    Resource,
    Target,
    TemplateVersion,
    utcnow,
)
from webapp.organizers import permissions
from webapp.organizers.permissions import OPERATOR


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
    values = {key: spec.get(key) or "" for key in (*TARGET_TEXT_FIELDS, "note")}
    values.update({key: spec.get(key) or None for key in TARGET_OPTIONAL_FIELDS})
    values["kind"] = spec["kind"]
    values["active"] = True
    # The languages the office reads (campaign.yaml `languages`, kept in `extra`): left out, they stay as they are,
    # so a campaign that shares a target but doesn't say what it reads changes nothing.
    if spec.get("languages"):
        values["languages"] = list(spec["languages"])
    return values


def apply_campaign(spec: CampaignSpec, report: LoadReport, *, force: bool = False) -> Campaign:
    """Make the database match one campaign folder, touching only what differs.

    A folder unchanged since it was last loaded is skipped (unless `force`), so what organizers
    changed in the workspace since then is kept; a changed folder wins over the workspace.
    """
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    fingerprint = digest(spec)
    if campaign is not None and campaign.files_digest == fingerprint and not force:
        report.note(f"{spec.slug}: unchanged", changed=False)
        return campaign
    created = campaign is None
    if created:
        campaign = Campaign(slug=spec.slug)
        db.session.add(campaign)
    campaign.files_digest = fingerprint
    changes = _assign(
        campaign,
        {
            "title": spec.title,
            "summary": spec.summary,
            "congress": spec.congress,
            "published": spec.published,
            "position": spec.position,
            "translations": spec.translations,
        },
    )
    if spec.closed is not None and spec.closed != campaign.closed:
        campaign.closed_at = utcnow() if spec.closed else None
        changes.append("closed" if spec.closed else "reopened")
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

    linked = {link.target_id for link in campaign.target_links}
    shared_changes: list[str] = []
    for target_spec in spec.targets:
        target = db.session.get(Target, target_spec["id"])
        action = "add" if target is None else "link" if target.id not in linked else "update"
        try:  # the one rule for writes to targets; the operator may change shared ones, never members of Congress
            permissions.check(OPERATOR, campaign, target_spec["id"], action, target=target, kind=target_spec["kind"])
        except permissions.TargetWriteRefused as exc:
            raise CampaignFileError(f"{spec.slug}: target '{exc.target_id}': {exc.message}") from None
        if action == "add" and not TARGET_ID.match(target_spec["id"]):  # the workspace's rule for a new id
            raise CampaignFileError(f"{spec.slug}: target '{target_spec['id']}': {TARGET_ID_RULE}")
        if target is None:
            target = Target(id=target_spec["id"])
            db.session.add(target)
            _assign(target, _target_values(target_spec))
            changes.append(f"target {target.id} added")
        elif fields := _assign(target, _target_values(target_spec)):
            changes.append(f"target {target.id} ({', '.join(fields)})")
            # Shared targets: the operator may change them, but should see whose letters the change moves too.
            shared = [c.slug for c in permissions.campaigns_writing_to(target.id) if c.id != campaign.id]
            if shared:
                shared_changes.append(f"target {target.id} ({', '.join(fields)}) also changed for {', '.join(shared)}")
    wanted_links = [t["id"] for t in spec.targets]
    if [link.target_id for link in campaign.target_links] != wanted_links:
        campaign.target_links = [
            CampaignTarget(target_id=target_id, position=index) for index, target_id in enumerate(wanted_links)
        ]
        changes.append("target list")

    by_slug = {template.slug: template for template in campaign.templates}
    for position, template_spec in enumerate(spec.templates):
        template = by_slug.pop(template_spec.slug, None)
        # What a letter is made of: any change to it makes a new version, which is kept (TemplateVersion).
        content = {
            "name": template_spec.name,
            "target_ids": template_spec.targets,
            "target_kinds": template_spec.kinds,
            "channels": template_spec.channels,
            "min_note_length": template_spec.min_note_length,
            "salutation_and_signoff": template_spec.salutation_and_signoff,
            "subject": template_spec.subject,
            "body": template_spec.body,
            "language": template_spec.language,
            "translations": {language: dict(text) for language, text in template_spec.translations.items()},
        }
        if template is None:
            template = LetterTemplate(
                slug=template_spec.slug,
                version=1,
                position=position,
                active=True,
                cwc_topics=list(template_spec.topics),
                **content,
            )
            campaign.templates.append(template)
            db.session.add(TemplateVersion.snapshot(template, author="files"))
            changes.append(f"letter {template.slug} added")
            continue
        fields = _assign(template, {"position": position, "active": True, "cwc_topics": template_spec.topics})
        content_fields = _assign(template, content)
        if content_fields:
            db.session.add(TemplateVersion.next(template, author="files"))
        if fields or content_fields:
            changes.append(f"letter {template.slug} ({', '.join(fields + content_fields)}; now v{template.version})")
    for template in by_slug.values():
        if template.active:
            template.active = False  # letters written with it keep pointing at it
            changes.append(f"letter {template.slug} retired")

    for line in shared_changes:
        report.note(f"{spec.slug}: {line}")
    if created:
        report.note(f"{spec.slug}: added ({len(spec.templates)} letters, {len(spec.targets)} targets)")
    elif changes:
        report.note(f"{spec.slug}: updated: {'; '.join(changes)}")
    else:
        report.note(f"{spec.slug}: unchanged", changed=False)
    return campaign


def load_campaigns(root: Path, *, force: bool = False) -> LoadReport:
    """Load every campaign folder under `root` (or `root` itself if it is one) in one transaction (all or nothing):
    flushed, and the caller commits; on any error what the load wrote is rolled back before it is raised."""
    specs = [read_campaign(root)] if (root / CAMPAIGN_FILE).is_file() else read_all(root)
    report = LoadReport()
    try:
        for spec in specs:
            apply_campaign(spec, report, force=force)
        db.session.flush()
    except Exception:
        db.session.rollback()
        raise
    return report


def campaign_spec(campaign: Campaign) -> CampaignSpec:
    """A campaign as the files describe it: what `flask campaigns export` writes."""
    return CampaignSpec(
        slug=campaign.slug,
        title=campaign.title,
        summary=campaign.summary or "",
        congress=bool(campaign.congress),
        published=bool(campaign.published),
        position=campaign.position or 0,
        updates=[(update.date, update.text) for update in campaign.updates],
        resources=[
            {"kind": r.kind, "name": r.name, "url": r.url or None, "description": r.description or ""}
            for r in campaign.resources
        ],
        targets=[
            {
                "id": target.id,
                **{key: getattr(target, key) for key in TARGET_FIELDS if getattr(target, key)},
                **({"languages": list(target.extra["languages"])} if (target.extra or {}).get("languages") else {}),
            }
            for target in campaign.targets
        ],
        templates=[
            TemplateSpec(
                slug=template.slug,
                name=template.name,
                subject=template.subject,
                body=template.body,
                targets=list(template.target_ids or []),
                kinds=list(template.target_kinds or []),
                channels=list(template.channels or []),
                position=index,  # what a load gives them, so exporting again writes the same files
                min_note_length=template.min_note_length or 0,
                salutation_and_signoff=bool(template.salutation_and_signoff),
                topics=list(template.cwc_topics or []),
                language=template.language or "en",
                translations={language: dict(text) for language, text in (template.translations or {}).items()},
            )
            for index, template in enumerate(
                sorted(active_templates(campaign), key=lambda t: (t.position or 0, t.slug))
            )
        ],
        closed=True if campaign.closed else None,
        translations={language: dict(text) for language, text in (campaign.translations or {}).items()},
    )


def export_campaign(campaign: Campaign, root: Path) -> list[str]:
    """Write the campaign under `root/<slug>/` in the letter_templates format; returns what changed on disk."""
    return write_campaign(campaign_spec(campaign), root)


def published_campaigns() -> list[Campaign]:
    return list(
        db.session.scalars(
            select(Campaign).where(Campaign.published.is_(True)).order_by(Campaign.position, Campaign.title)
        )
    )


def find_campaign(slug: str, *, page: bool = True) -> Campaign | None:
    """A published campaign with its letters and targets loaded up front (one query each); with `page`,
    also the updates and resources its page shows. Writing a letter or reading totals needs neither, and
    is served from the per-process copy (webapp/campaigns/cache.py). What is no slug at all (a NUL, which
    PostgreSQL refuses in a query; a space; 500 characters) names no campaign and asks the database nothing."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        return None
    if page:
        return _load_campaign(db.session, slug, page=True)
    return get_cache().find(slug, lambda session: _load_campaign(session, slug, page=False))


def _load_campaign(session, slug: str, *, page: bool) -> Campaign | None:
    options = [selectinload(Campaign.templates), selectinload(Campaign.target_links)]
    if page:
        options += [selectinload(Campaign.updates), selectinload(Campaign.resources)]
    return session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.published.is_(True)).options(*options))


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
