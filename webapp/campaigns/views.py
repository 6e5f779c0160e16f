"""Campaign pages: the list, and one campaign with its updates, actions and live totals."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from webapp.campaigns import service
from webapp.extensions import db
from webapp.totals.service import campaign_totals

bp = Blueprint("campaigns", __name__)


@bp.route("/")
def index():
    return render_template("campaigns/index.html", campaigns=service.published_campaigns())


@bp.route("/c/<slug>")
def campaign(slug: str):
    found = service.find_campaign(slug)
    if found is None:
        abort(404)
    targets = service.campaign_targets(found)
    return render_template(
        "campaigns/campaign.html",
        campaign=found,
        targets=targets,
        templates_for={target.id: service.templates_for(found, target) for target in targets},
        totals=campaign_totals(db.session, found),
    )
