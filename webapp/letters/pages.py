"""Campaign pages: the list, and one campaign with its updates, the supporter's members of Congress, actions and live totals."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, abort, current_app, render_template, request, url_for

from webapp.campaigns import service
from webapp.campaigns.checks import offered_channels
from webapp.congress import service as congress
from webapp.extensions import db
from webapp.letters import actions
from webapp.letters import visit as visits
from webapp.letters.choosing import find_members
from webapp.totals.service import campaign_totals

bp = Blueprint("campaigns", __name__)

MOST_WRITTEN = 10


@bp.route("/")
def index():
    return render_template("campaigns/index.html", campaigns=service.published_campaigns())


@bp.route("/c/<slug>")
def campaign(slug: str):
    found = service.find_campaign(slug)
    if found is None:
        abort(404)
    letters = service.letter_templates(found)
    scripts = service.call_scripts(found)
    own_targets = service.campaign_targets(found)
    # Only targets a supporter can reach are offered: a letter that has a way to them, or a phone number.
    targets = [target for target in own_targets if offered_channels(target, letters)]
    zip_code = (request.args.get("zip") or "").strip()
    lookup, zip_error = find_members(zip_code) if found.congress else (None, None)
    totals = campaign_totals(db.session, found)
    own = {target.id for target in own_targets}
    # "Write to all": both senators and the representative, unless the supporter must pick a district first.
    write_all = [m.id for m in (lookup.senators + ([] if lookup.split else lookup.representatives))] if lookup else []
    visit = visits.current()
    started = bool(visit.submission_ids(slug) or visit.call_outcomes(slug))
    return render_template(
        "campaigns/campaign.html",
        campaign=found,
        page_url=url_for("campaigns.campaign", slug=slug, _external=True),
        plan=actions.for_visit(found, visit, lookup.zip if lookup else "") if started and not found.closed else None,
        forgotten=bool(request.args.get("forgotten")),
        targets=targets,
        own_ids=own,
        templates_for={
            target.id: [t for t in letters if t.fits(target) and t.channels_for(target)] for target in targets
        },
        has_call_script={target.id: any(script.fits(target) for script in scripts) for target in targets},
        zip_code=zip_code,
        lookup=lookup,
        write_all=write_all,
        zip_error=zip_error,
        find_representative_url=congress.FIND_REPRESENTATIVE_URL,
        totals=totals,
        most_written=[row for row in totals.targets if row.target_id not in own][:MOST_WRITTEN],
    )


@bp.route("/c/<slug>/poster")
def poster(slug: str):
    """A page to print and pin up: the campaign's title and summary, and a QR code that opens it."""
    found = service.find_campaign(slug, page=False)
    if found is None:
        abort(404)
    return render_template(
        "campaigns/poster.html", campaign=found, page_url=url_for("campaigns.campaign", slug=slug, _external=True)
    )


@bp.route("/c/<slug>/qr.svg")
def qr_code(slug: str):
    """The campaign page's address as a QR code (SVG, drawn here by segno: nothing is fetched from elsewhere)."""
    found = service.find_campaign(slug, page=False)
    if found is None:
        abort(404)
    svg = io.BytesIO()
    url = url_for("campaigns.campaign", slug=slug, _external=True)
    segno.make(url, error="m").save(svg, kind="svg", scale=10, border=4, title=f"QR code: {url}", xmldecl=False)
    response = current_app.response_class(svg.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{slug}-qr.svg"'
    return response
