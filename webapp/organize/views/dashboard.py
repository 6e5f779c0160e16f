"""The campaign's dashboard (totals, charts, CWC delivery, the embed snippet and the sites allowed to show it)
and its CSV exports."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, stream_with_context, url_for

from webapp.cwc import report as cwc_report
from webapp.embed import service as embed_service
from webapp.extensions import db
from webapp.i18n import gettext
from webapp.models import Campaign
from webapp.organize import dashboard
from webapp.organize.forms import ActionForm
from webapp.organize.views.workspace import bp, managed_campaign


def _congress_report(campaign: Campaign) -> dict | None:
    """For a campaign writing to Congress: whether this site has CWC, letters delivered per member, refusals."""
    if not campaign.congress:
        return None
    return {
        "cwc": cwc_report.setup(),
        "members": cwc_report.members(campaign.id),
        "refusals": cwc_report.refusals(campaign.id),
    }


def _dashboard_page(campaign: Campaign, origins_text: str | None = None, problems=(), status: int = 200):
    return (
        render_template(
            "organize/dashboard.html",
            campaign=campaign,
            board=dashboard.dashboard(campaign),
            snippet=embed_service.snippet(
                campaign,
                url_for("embed.campaign", slug=campaign.slug, _external=True),
                url_for("static", filename="js/embed.js", _external=True),
            ),
            origins_text="\n".join(campaign.embed_origins or []) if origins_text is None else origins_text,
            origin_problems=list(problems),
            congress=_congress_report(campaign),
            tab="dashboard",
        ),
        status,
    )


@bp.route("/c/<slug>/dashboard")
def campaign_dashboard(slug: str):
    return _dashboard_page(managed_campaign(slug))


@bp.route("/c/<slug>/embed", methods=["POST"])
def embed_origins(slug: str):
    found = managed_campaign(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    typed = (request.form.get("origins") or "")[:5000]
    try:
        origins = embed_service.set_origins(found, typed.splitlines())
    except embed_service.InvalidOrigins as exc:
        return _dashboard_page(found, typed, exc.problems, 422)
    db.session.commit()
    flash(
        gettext("Saved: the campaign can be embedded on %(sites)s.", sites=", ".join(origins))
        if origins
        else gettext("Saved: no other site may embed the campaign now."),
        "ok",
    )
    return redirect(url_for("organize.campaign_dashboard", slug=slug, _anchor="embed"))


@bp.route("/c/<slug>/export/totals-per-target.csv")
def export_targets(slug: str):
    found = managed_campaign(slug)
    return dashboard.csv_download(dashboard.totals_csv(found), f"{found.slug}-totals-per-target.csv")


@bp.route("/c/<slug>/export/totals-per-day.csv")
def export_days(slug: str):
    found = managed_campaign(slug)
    return dashboard.csv_download(dashboard.days_csv(found), f"{found.slug}-totals-per-day.csv")


@bp.route("/c/<slug>/export/letters.csv")
def export_letters(slug: str):
    found = managed_campaign(slug)
    return dashboard.csv_download(stream_with_context(dashboard.letters_csv(found)), f"{found.slug}-letters.csv")
