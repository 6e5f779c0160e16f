"""JSON API v1: campaigns, submissions, their status and totals. Errors are JSON with per-field messages."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from flask import Blueprint, abort, jsonify, url_for
from redis.exceptions import RedisError

from webapp.api.schemas import ConfirmIn, HandOffIn, SubmissionIn, parse
from webapp.campaigns.service import active_templates, campaign_targets, find_campaign, published_campaigns
from webapp.core.invalid import Invalid
from webapp.core.json_errors import json_errors
from webapp.cwc import address as cwc_address
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.ssrf import RefusedHost
from webapp.extensions import csrf, db
from webapp.i18n import reasons
from webapp.letters import drafting, mail_account, reporting, service
from webapp.letters.errors import NotFound
from webapp.security import bodies
from webapp.totals.service import campaign_totals

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # no cookies authenticate the API; CSRF protects the HTML forms
json_errors(bp)  # invalid input (any feature's Invalid) is a 422 with per-field messages

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@lru_cache(maxsize=1)
def _openapi() -> dict:
    return yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))


@bp.route("/openapi.json")
def openapi():
    return jsonify(_openapi())


@bp.route("/campaigns")
def campaigns():
    return jsonify(
        {"campaigns": [{"slug": c.slug, "title": c.title, "summary": c.summary} for c in published_campaigns()]}
    )


def _campaign_or_404(slug: str, *, page: bool = False):
    campaign = find_campaign(slug, page=page)
    if campaign is None:
        abort(404, description=f"No campaign '{slug}'.")
    return campaign


@bp.route("/campaigns/<slug>")
def campaign(slug: str):
    found = _campaign_or_404(slug, page=True)
    return jsonify(
        {
            "slug": found.slug,
            "title": found.title,
            "summary": found.summary,
            "congress": found.congress,
            "updates": [{"date": u.date.isoformat(), "text": u.text} for u in found.updates],
            "resources": [{"kind": r.kind, "name": r.name, "url": r.url} for r in found.resources],
            "templates": [
                {
                    "slug": t.slug,
                    "name": t.name,
                    "subject": t.subject,
                    "channels": t.channels,
                    "targets": t.target_ids,
                    "kinds": t.target_kinds,
                    "language": t.language or "en",
                    "languages": t.languages,
                    "versions": {
                        language: {"name": text.name, "subject": text.subject}
                        for language in t.languages
                        for text in [t.text_in(language)]
                    },
                }
                for t in active_templates(found)
            ],
            "targets": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "name": t.name,
                    "title": t.title,
                    "organization": t.organization,
                    "channels": t.channels,
                    "languages": t.languages,
                    "no_email_reason": t.no_email_reason,
                }
                for t in campaign_targets(found)
            ],
        }
    )


@bp.route("/campaigns/<slug>/totals")
def totals(slug: str):
    return jsonify(campaign_totals(db.session, _campaign_or_404(slug)).as_dict())


@bp.route("/submissions", methods=["POST"])
@bodies.takes_a_letter
def create_submission():
    body = parse(SubmissionIn)
    found = _campaign_or_404(body.campaign)
    account = None
    if body.smtp is not None and body.channel == "smtp":
        account = SmtpAccount(
            host=body.smtp.host,
            port=body.smtp.port,
            security=body.smtp.security,
            username=body.smtp.username,
            password=body.smtp.password.get_secret_value(),
        )
    postal = _postal(body.postal.model_dump()) if body.postal and body.channel == "cwc" else None
    order = service.Order(
        body.template,
        tuple(body.targets),
        body.channel,
        drafting.Supporter(**body.supporter.model_dump()),
        edit_all=(body.subject, body.body),
        account=account,
        postal=postal,
        language=body.language,
    )
    try:
        submission = service.send(found, order)
    except NotFound as exc:
        abort(404, description=str(exc))
    except RefusedHost as exc:
        raise Invalid({"smtp.host": [reasons.translate(str(exc))]}) from None
    except RedisError:
        abort(503, description=mail_account.unavailable())
    db.session.commit()
    service.queue(submission)
    view = reporting.submission_view(submission)
    return jsonify(view), 202, {"Location": url_for("api.submission", submission_id=submission.id)}


@bp.route("/submissions/<submission_id>")
def submission(submission_id: str):
    found = reporting.find_submission(submission_id)
    if found is None:
        abort(404, description="No such submission.")
    return jsonify(reporting.submission_view(found))


@bp.route("/letters/<letter_id>/hand-off", methods=["POST"])
def hand_off_letter(letter_id: str):
    """A failed letter sent another way: the supporter's mail app, the target's contact form, a printed letter, or
    (refused by Congress's system) CWC again with a corrected address."""
    letter = reporting.find_letter(letter_id)
    if letter is None:
        abort(404, description="No such letter.")
    body = parse(HandOffIn)
    postal = _postal(body.postal.model_dump()) if body.postal is not None else None
    if body.channel == "cwc" and postal is None:
        raise Invalid({"postal": [str(service.CWC_ADDRESS_NEEDED)]})
    submission = service.send_another_way(letter, body.channel, postal)
    db.session.commit()
    service.queue(submission)
    view = reporting.submission_view(submission)
    return jsonify(view), 201, {"Location": url_for("api.submission", submission_id=submission.id)}


@bp.route("/letters/<letter_id>/confirm", methods=["POST"])
def confirm_letter(letter_id: str):
    """The supporter says a hand-off happened (sent, called, voicemail). Once per letter."""
    letter = reporting.find_letter(letter_id)
    if letter is None:
        abort(404, description="No such letter.")
    recorded = service.confirm(letter, parse(ConfirmIn).outcome)
    db.session.commit()
    return jsonify({"id": letter.id, "outcome": letter.outcome, "recorded": recorded})


def _postal(fields: dict) -> cwc_address.PostalAddress:
    """The address a CWC letter carries; its problems are answered under `postal.` like the body's own."""
    try:
        return cwc_address.parse(fields)
    except cwc_address.AddressInvalid as exc:
        raise Invalid(exc.under("postal")) from None
