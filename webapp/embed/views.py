"""`/c/<slug>/embed`: the campaign as a card for an `<iframe>` on the organizer's own site, and the headers that let
only the sites they listed frame it. Every action opens the full campaign in a new tab: a page in another site's
frame gets no cookies in today's browsers, so the letter itself is written on Outcry's own page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from webapp.campaigns import service as campaigns
from webapp.campaigns.checks import offered_channels
from webapp.congress import service as congress
from webapp.embed import service
from webapp.extensions import db
from webapp.i18n import gettext, reasons
from webapp.totals.service import campaign_totals

bp = Blueprint("embed", __name__)


def _lookup(raw_zip: str) -> tuple[congress.ZipLookup | None, str | None]:
    if not raw_zip:
        return None, None
    try:
        return congress.lookup(raw_zip), None
    except congress.InvalidZip:
        return None, gettext("Please enter a 5-digit ZIP code (or ZIP+4, like 94110-1234).")
    except congress.UnknownZip as exc:
        return None, reasons.translate(str(exc))
    except congress.CongressDataMissing:
        return None, gettext("The list of members of Congress isn't loaded on this server yet. Please try again later.")


@bp.route("/c/<slug>/embed")
def campaign(slug: str):
    found = campaigns.find_campaign(slug)
    if found is None:
        abort(404)
    templates = campaigns.active_templates(found)
    targets = [target for target in campaigns.campaign_targets(found) if offered_channels(target, templates)]
    zip_code = (request.args.get("zip") or "").strip()[:10]
    lookup, zip_error = _lookup(zip_code) if found.congress and not found.closed else (None, None)
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
