"""A campaign's pages: the list, a new campaign, its settings, publishing and closing, updates and resources."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from webapp.extensions import db
from webapp.models import Campaign
from webapp.organize import campaigns, invalid
from webapp.organize.forms import ActionForm, CampaignForm, MemberForm, NewCampaignForm, ResourceForm, UpdateForm
from webapp.organize.views.workspace import attach_errors, bp, current_organizer, managed_campaign, url_number
from webapp.organizers import accounts
from webapp.totals.service import campaign_totals


@bp.route("/")
def index():
    managed = accounts.managed_campaigns(current_organizer())
    totals = {campaign.id: campaign_totals(db.session, campaign).totals for campaign in managed}
    return render_template("organize/index.html", campaigns=managed, totals=totals, form=NewCampaignForm())


@bp.route("/campaigns", methods=["POST"])
def create_campaign():
    form = NewCampaignForm()
    if form.validate_on_submit():
        try:
            campaign = campaigns.create_campaign(
                current_organizer(), title=form.title.data or "", slug=form.slug.data or "", congress=form.congress.data
            )
        except invalid.Invalid as exc:
            attach_errors(form, exc.errors, "title")
        else:
            db.session.commit()
            flash(f"“{campaign.title}” is created as a draft. Add its targets and letters, then publish it.", "ok")
            return redirect(url_for("organize.campaign", slug=campaign.slug))
    managed = accounts.managed_campaigns(current_organizer())
    return render_template("organize/index.html", campaigns=managed, totals={}, form=form, show_new=True), 422


def _campaign_page(campaign: Campaign, form: CampaignForm | None = None, status: int = 200, **forms):
    form = form or CampaignForm(obj=campaign, formdata=None)
    members_form = None
    members = accounts.members_of(campaign)
    if current_organizer().is_admin:
        members_form = forms.pop("members_form", None) or MemberForm(formdata=None)
        members_form.email.choices = [SelectChoice(o.email, o.email) for o in accounts.organizers_besides(members)]
    return (
        render_template(
            "organize/campaign.html",
            campaign=campaign,
            form=form,
            update_form=forms.get("update_form") or UpdateForm(formdata=None),
            resource_form=forms.get("resource_form") or ResourceForm(formdata=None),
            members_form=members_form,
            members=members,
            publish_problems=campaigns.publish_problems(campaign),
            tab="campaign",
        ),
        status,
    )


@bp.route("/c/<slug>/", methods=["GET", "POST"])
def campaign(slug: str):
    found = managed_campaign(slug)
    if request.method == "GET":
        return _campaign_page(found)
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            campaigns.update_campaign(
                found,
                title=form.title.data or "",
                summary=form.summary.data or "",
                congress=form.congress.data,
                position=form.position.data,
            )
        except invalid.Invalid as exc:
            attach_errors(form, exc.errors, "title")
        else:
            db.session.commit()
            flash("Saved.", "ok")
            return redirect(url_for("organize.campaign", slug=slug))
    return _campaign_page(found, form, 422)


STATE_ACTIONS = {
    "publish": ("published", True, "Published: supporters can find it at its address and in the campaign list."),
    "unpublish": ("published", False, "Unpublished: supporters can't see it any more."),
    "close": ("closed", True, "Closed: the page now thanks supporters and shows the totals; it takes no more letters."),
    "reopen": ("closed", False, "Reopened: it takes letters again."),
}


@bp.route("/c/<slug>/state", methods=["POST"])
def campaign_state(slug: str):
    found = managed_campaign(slug)
    action = STATE_ACTIONS.get(request.form.get("action", ""))
    if not ActionForm().validate_on_submit() or action is None:
        abort(400)
    what, value, message = action
    try:
        (campaigns.set_published if what == "published" else campaigns.set_closed)(found, value)
    except invalid.Invalid as exc:
        for messages in exc.errors.values():
            for text in messages:
                flash(text, "error")
    else:
        db.session.commit()
        flash(message, "ok")
    return redirect(url_for("organize.campaign", slug=slug))


@bp.route("/c/<slug>/updates", methods=["POST"])
def add_update(slug: str):
    found = managed_campaign(slug)
    form = UpdateForm()
    if form.validate_on_submit():
        try:
            campaigns.add_update(found, form.date.data, form.text.data or "")
        except invalid.Invalid as exc:
            attach_errors(form, exc.errors, "text")
        else:
            db.session.commit()
            flash("Update added: it shows above the actions on the campaign page.", "ok")
            return redirect(url_for("organize.campaign", slug=slug, _anchor="updates"))
    return _campaign_page(found, status=422, update_form=form)


@bp.route("/c/<slug>/updates/<update_id>/delete", methods=["POST"])
def delete_update(slug: str, update_id: str):
    update_id = url_number(update_id)
    found = managed_campaign(slug)
    if ActionForm().validate_on_submit() and campaigns.remove_update(found, update_id):
        db.session.commit()
        flash("Update removed.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="updates"))


@bp.route("/c/<slug>/resources", methods=["POST"])
def add_resource(slug: str):
    found = managed_campaign(slug)
    form = ResourceForm()
    if form.validate_on_submit():
        try:
            campaigns.add_resource(
                found, form.kind.data, form.name.data or "", form.url.data, form.description.data or ""
            )
        except invalid.Invalid as exc:
            attach_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash("Added to “More you can do”.", "ok")
            return redirect(url_for("organize.campaign", slug=slug, _anchor="resources"))
    return _campaign_page(found, status=422, resource_form=form)


@bp.route("/c/<slug>/resources/<resource_id>/delete", methods=["POST"])
def delete_resource(slug: str, resource_id: str):
    resource_id = url_number(resource_id)
    found = managed_campaign(slug)
    if ActionForm().validate_on_submit() and campaigns.remove_resource(found, resource_id):
        db.session.commit()
        flash("Removed.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="resources"))
