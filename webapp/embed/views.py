"""`/c/<slug>/embed`: the campaign as a card for an `<iframe>` on the organizer's own site, and the headers that let
only the sites they listed frame it. Every action opens the full campaign in a new tab: a page in another site's
frame gets no cookies in today's browsers, so the letter itself is written on Outcry's own page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from webapp.campaigns import service as campaigns
from webapp.campaigns.checks import offered_channels
from webapp.embed import service
from webapp.extensions import db
from webapp.letters.choosing import find_members
from webapp.totals.service import campaign_totals

bp = Blueprint("embed", __name__)


@bp.route("/c/<slug>/embed")
def campaign(slug: str):
    found = campaigns.find_campaign(slug)
    if found is None:
        abort(404)
    templates = campaigns.active_templates(found)
    targets = [target for target in campaigns.campaign_targets(found) if offered_channels(target, templates)]
    zip_code = (request.args.get("zip") or "").strip()[:10]
    lookup, zip_error = find_members(zip_code) if found.congress and not found.closed else (None, None)
    page = render_template(
        "embed/campaign.html",
        campaign=found,
        targets=targets,
        letters={
            t.id: [x for x in campaigns.letter_templates(found) if x.fits(t) and x.channels_for(t)] for t in targets
        },
        lookup=lookup,
        zip_code=zip_code,
        zip_error=zip_error,
        totals=campaign_totals(db.session, found).totals,
    )
    return page, 200, service.headers(found)
