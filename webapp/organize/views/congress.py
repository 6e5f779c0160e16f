"""Members of Congress's contact-form links, which organizers fill in where the Congress data has none."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from webapp.models import Campaign
from webapp.organize import congress as congress_links
from webapp.organize import invalid
from webapp.organize.forms import ActionForm
from webapp.organize.views.workspace import bp, current_organizer, managed_campaign


def _congress_page(campaign: Campaign, errors: dict[str, str] | None = None, status: int = 200):
    if not campaign.congress:
        abort(404)
    state = (request.values.get("state") or "").strip().upper()[:2]
    query = (request.values.get("q") or "").strip()[:100]
    missing_only = request.values.get("all") != "1"
    rows, matched = (
        congress_links.member_rows(state=state, query=query, missing_only=missing_only) if state or query else ([], 0)
    )
    return (
        render_template(
            "organize/congress.html",
            campaign=campaign,
            states=congress_links.states(),
            rows=rows,
            matched=matched,
            state=state,
            query=query,
            missing_only=missing_only,
            errors=errors or {},
            values=request.form if request.method == "POST" else {},
            is_admin=current_organizer().is_admin,
            tab="congress",
        ),
        status,
    )


@bp.route("/c/<slug>/congress")
def congress(slug: str):
    return _congress_page(managed_campaign(slug))


@bp.route("/c/<slug>/congress/<target_id>/form-link", methods=["POST"])
def congress_form_link(slug: str, target_id: str):
    found = managed_campaign(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    remove = request.form.get("action") == "remove"
    try:
        if remove:
            congress_links.remove_form_link(current_organizer(), found, target_id)
        else:
            congress_links.save_form_link(current_organizer(), found, target_id, request.form.get("url") or "")
    except invalid.Invalid as exc:
        return _congress_page(found, {target_id: " ".join(exc.errors.get("url", []))}, 422)
    flash("Removed: supporters get the link from the Congress data again." if remove else "Saved: supporters "
          "writing to this member now get their contact form.", "ok")  # fmt: skip
    return redirect(
        url_for(
            "organize.congress",
            slug=slug,
            state=request.form.get("state") or None,
            q=request.form.get("q") or None,
            all=request.form.get("all") or None,
            _anchor=f"member-{target_id}",
        )
    )
