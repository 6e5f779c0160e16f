"""The organizer API under /api/v1/organize: campaigns, letter templates, targets and totals, by bearer token.

`Authorization: Bearer <token>` (from `flask organizers token EMAIL` or the account page). A missing or wrong
token is a 401, a campaign the token's organizer doesn't run a 403, a template `check_template` refuses a 422
naming the field and the line. Documented in webapp/api/openapi.yaml.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, abort, g, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from webapp.api.schemas import parse
from webapp.campaigns.content import POSITION_MAX, TARGET_FIELDS
from webapp.core.json_errors import json_errors
from webapp.extensions import csrf, db
from webapp.models import Campaign
from webapp.organize import campaigns, dashboard, letter_templates, targets
from webapp.organize.invalid import Invalid
from webapp.organizers import accounts, permissions
from webapp.organizers.models import Organizer
from webapp.security import bodies
from webapp.totals.service import campaign_totals

bp = Blueprint("organize_api", __name__, url_prefix="/api/v1/organize")
csrf.exempt(bp)  # a bearer token, not a cookie, authenticates these requests
json_errors(bp)  # the public API's JSON errors: a refused template is a 422 naming field and line, a conflict a 409


# ---- request bodies -------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=40_000)


class UpdateIn(_Strict):
    date: str
    text: str


class ResourceIn(_Strict):
    kind: Literal["donate", "petition", "read"] = "read"
    name: str
    url: str | None = None
    description: str = ""


class CampaignCreateIn(_Strict):
    title: str
    slug: str = ""
    summary: str = ""
    congress: bool = False


class CampaignUpdateIn(_Strict):
    title: str | None = None
    summary: str | None = None
    congress: bool | None = None
    position: int | None = Field(default=None, ge=0, le=POSITION_MAX)
    published: bool | None = None
    closed: bool | None = None
    updates: list[UpdateIn] | None = Field(default=None, max_length=200)
    resources: list[ResourceIn] | None = Field(default=None, max_length=200)


class TranslationIn(_Strict):
    name: str
    subject: str
    body: str


class TemplateIn(_Strict):
    slug: str = ""
    name: str
    subject: str
    body: str
    targets: list[str] = Field(default_factory=list, max_length=500)
    kinds: list[str] = Field(default_factory=list, max_length=20)
    channels: list[str] = Field(min_length=1, max_length=10)
    min_note_length: int = Field(default=0, ge=0)
    salutation_and_signoff: bool = False
    topics: list[str] = Field(default_factory=list, max_length=10)
    language: str | None = Field(default=None, max_length=16)
    translations: dict[str, TranslationIn] | None = Field(default=None, max_length=20)
    active: bool | None = None
    base_version: int | None = None


class TargetIn(_Strict):
    id: str = ""
    kind: str = "person"
    name: str
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    organization: str = ""
    salutation: str = ""
    email: str = ""
    phone: str = ""
    contact_form: str = ""
    website: str = ""
    postal_address: str = ""
    note: str = ""


# ---- authentication and errors --------------------------------------------------------------------------------


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    organizer = accounts.organizer_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if organizer is None:
        raise Unauthorized(
            "Send a valid organizer API token as 'Authorization: Bearer <token>' "
            "(make one with `flask organizers token EMAIL` or on your account page).",
            www_authenticate=WWWAuthenticate("Bearer", {"realm": "outcry organizer API"}),
        )
    g.organizer = organizer


def _organizer() -> Organizer:
    return g.organizer


def _campaign(slug: str) -> Campaign:
    campaign = campaigns.find_campaign(slug)
    refused = permissions.campaign_refusal(_organizer(), campaign)
    if refused == 403:
        abort(403, description=f"This token's organizer doesn't run the campaign '{slug}'.")
    if refused is not None or campaign is None:
        abort(404, description=f"No campaign '{slug}'.")  # someone else's draft: as if there were none
    return campaign


# ---- what the API answers -------------------------------------------------------------------------------------


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "summary": campaign.summary,
        "congress": campaign.congress,
        "published": campaign.published,
        "closed": campaign.closed,
        "position": campaign.position,
        "url": url_for("campaigns.campaign", slug=campaign.slug, _external=True),
        "updates": [{"date": u.date.isoformat(), "text": u.text} for u in campaign.updates],
        "resources": [
            {"kind": r.kind, "name": r.name, "url": r.url, "description": r.description} for r in campaign.resources
        ],
        "targets": [{"id": t.id, "kind": t.kind, "name": t.name, "channels": t.channels} for t in campaign.targets],
        "templates": [
            {"slug": t.slug, "name": t.name, "version": t.version, "active": t.active} for t in campaign.templates
        ],
        "totals": campaign_totals(db.session, campaign).totals.as_dict(),
    }


def template_view(template) -> dict[str, Any]:
    return {
        "slug": template.slug,
        "name": template.name,
        "subject": template.subject,
        "body": template.body,
        "targets": template.target_ids,
        "kinds": template.target_kinds,
        "channels": template.channels,
        "min_note_length": template.min_note_length or 0,
        "salutation_and_signoff": bool(template.salutation_and_signoff),
        "topics": list(template.cwc_topics or []),
        "language": template.language or "en",
        "languages": template.languages,
        "translations": {language: dict(text) for language, text in (template.translations or {}).items()},
        "missing_translations": letter_templates.missing_translations(template),
        "version": template.version,
        "active": template.active,
        "versions": [
            {"version": v.version, "created_at": v.created_at.isoformat() + "Z", "author": v.author, "note": v.note}
            for v in letter_templates.versions_of(template)
        ],
    }


def target_view(target) -> dict[str, Any]:
    return {
        "id": target.id,
        **{key: getattr(target, key) for key in TARGET_FIELDS},
        "channels": target.channels,
    }


# ---- endpoints ------------------------------------------------------------------------------------------------


@bp.route("/campaigns", methods=["GET"])
def list_campaigns():
    return jsonify({"campaigns": [campaign_view(c) for c in accounts.managed_campaigns(_organizer())]})


@bp.route("/campaigns", methods=["POST"])
def create_campaign():
    data: CampaignCreateIn = parse(CampaignCreateIn)
    campaign = campaigns.create_campaign(
        _organizer(), title=data.title, slug=data.slug, summary=data.summary, congress=data.congress
    )
    db.session.commit()
    return jsonify(campaign_view(campaign)), 201, {"Location": url_for(".update_campaign", slug=campaign.slug)}


@bp.route("/campaigns/<slug>", methods=["GET"])
def get_campaign(slug: str):
    return jsonify(campaign_view(_campaign(slug)))


@bp.route("/campaigns/<slug>", methods=["PUT"])
def update_campaign(slug: str):
    """Change the fields given; fields left out stay as they are. `updates` and `resources` replace the lists."""
    campaign = _campaign(slug)
    data: CampaignUpdateIn = parse(CampaignUpdateIn)
    try:  # publishing is checked last, on the campaign as this request leaves it (`set_published`)
        if data.updates is not None:
            campaigns.replace_updates(campaign, [item.model_dump() for item in data.updates])
        if data.resources is not None:
            campaigns.replace_resources(campaign, [item.model_dump() for item in data.resources])
        campaigns.update_campaign(
            campaign, title=data.title, summary=data.summary, congress=data.congress, position=data.position
        )
        if data.published is not None:
            campaigns.set_published(campaign, data.published)
        if data.closed is not None:
            campaigns.set_closed(campaign, data.closed)
    except Invalid:
        db.session.rollback()
        raise
    db.session.commit()  # every field given, or (on any refusal above) none
    return jsonify(campaign_view(campaign))


@bp.route("/campaigns/<slug>/templates", methods=["GET"])
def list_templates(slug: str):
    campaign = _campaign(slug)
    return jsonify({"templates": [template_view(t) for t in campaign.templates]})


@bp.route("/campaigns/<slug>/templates", methods=["POST"])
@bodies.takes_a_letter
def save_template(slug: str):
    """Create a letter template, or save a new version of the one with this slug."""
    campaign = _campaign(slug)
    data: TemplateIn = parse(TemplateIn)
    existing = letter_templates.find_template(campaign, data.slug) if data.slug else None
    template, changed = letter_templates.save_template(
        campaign,
        letter_templates.TemplateInput(
            name=data.name,
            subject=data.subject,
            body=data.body,
            target_ids=data.targets,
            target_kinds=data.kinds,
            channels=data.channels,
            min_note_length=data.min_note_length,
            slug=data.slug,
            salutation_and_signoff=data.salutation_and_signoff,
            cwc_topics=data.topics,
            language=data.language,
            translations=(
                {language: text.model_dump() for language, text in data.translations.items()}
                if data.translations is not None
                else None
            ),
        ),
        author=f"api: {_organizer().email}",
        slug=existing.slug if existing else None,
        base_version=data.base_version,
    )
    if data.active is not None and data.active != template.active:
        letter_templates.set_template_active(template, data.active)
    db.session.commit()  # the new version and whether it is offered, together
    return jsonify({**template_view(template), "changed": changed}), 200 if existing else 201


@bp.route("/campaigns/<slug>/targets", methods=["POST"])
def save_target(slug: str):
    """Add a target to the campaign, or change the campaign target with this id."""
    campaign = _campaign(slug)
    data: TargetIn = parse(TargetIn)
    values = data.model_dump()
    target_id = values.pop("id").strip().lower()
    if target_id and targets.campaign_target(campaign, target_id) is not None:
        targets.update_target(campaign, _organizer(), target_id, values)
        db.session.commit()
        return jsonify(target_view(targets.campaign_target(campaign, target_id))), 200
    target = targets.add_target(campaign, _organizer(), values, target_id)
    db.session.commit()
    return jsonify(target_view(target)), 201


@bp.route("/campaigns/<slug>/totals.csv", methods=["GET"])
def totals_csv(slug: str):
    campaign = _campaign(slug)
    return dashboard.csv_download(dashboard.totals_csv(campaign), f"{campaign.slug}-totals-per-target.csv")
