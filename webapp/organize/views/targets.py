"""A campaign's targets: the list with each one's health, adding and editing one, removing it, and CSV import
and export."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from webapp.campaigns.content import TARGET_FIELDS
from webapp.extensions import db
from webapp.i18n import lazy_gettext as _l
from webapp.organize import dashboard, invalid, target_health, target_import
from webapp.organize import targets as campaign_targets
from webapp.organize.forms import ActionForm, ImportForm, TargetForm
from webapp.organize.views.workspace import attach_errors, bp, current_organizer, managed_campaign
from webapp.organizers import permissions
from webapp.security import bodies

# 2,000 targets (IMPORT_ROWS_MAX) of a few hundred bytes each fit many times over, pasted or uploaded.
IMPORT_BYTES_MAX = 2 * 1024 * 1024
IMPORT_TOO_LARGE = _l(
    "That file is larger than an import takes (2 MB, and at most 2,000 targets). Split it into smaller files "
    "and import them one after another."
)


@bp.route("/c/<slug>/targets")
def targets(slug: str):
    found = managed_campaign(slug)
    return render_template(
        "organize/targets.html", campaign=found, health=target_health.target_health(found), tab="targets"
    )


def _target_values(form: TargetForm) -> dict:
    return {name: getattr(form, name).data or "" for name in TARGET_FIELDS}


@bp.route("/c/<slug>/targets/new", methods=["GET", "POST"])
def new_target(slug: str):
    found = managed_campaign(slug)
    form = TargetForm()
    status = 200
    if form.validate_on_submit():
        try:
            target = campaign_targets.add_target(found, current_organizer(), _target_values(form), form.id.data or "")
        except invalid.Invalid as exc:
            attach_errors(form, exc.errors, "name")
            status = 422
        else:
            db.session.commit()
            flash(f"{target.name} added. Choose them in a letter's “who it is for” to write to them.", "ok")
            return redirect(url_for("organize.targets", slug=slug))
    elif request.method == "POST":
        status = 422
    return render_template("organize/target_form.html", campaign=found, form=form, target=None, tab="targets"), status


@bp.route("/c/<slug>/targets/<target_id>/edit", methods=["GET", "POST"])
def edit_target(slug: str, target_id: str):
    found = managed_campaign(slug)
    target = campaign_targets.campaign_target(found, target_id)
    if target is None:
        abort(404)
    form = TargetForm(obj=target) if request.method == "GET" else TargetForm()
    editable = permissions.may_update(current_organizer(), found, target)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                changed = campaign_targets.update_target(found, current_organizer(), target_id, _target_values(form))
            except invalid.Invalid as exc:
                attach_errors(form, exc.errors, "name")
            else:
                db.session.commit()
                flash(
                    f"Saved {target.name}" + (f" ({', '.join(changed)})." if changed else ": nothing had changed."),
                    "ok",
                )
                return redirect(url_for("organize.targets", slug=slug))
    return (
        render_template(
            "organize/target_form.html", campaign=found, form=form, target=target, editable=editable, tab="targets"
        ),
        status,
    )


@bp.route("/c/<slug>/targets/<target_id>/remove", methods=["POST"])
def remove_target(slug: str, target_id: str):
    found = managed_campaign(slug)
    if ActionForm().validate_on_submit():
        notes = campaign_targets.remove_target(found, current_organizer(), target_id)
        db.session.commit()
        flash(" ".join(["Removed from this campaign; the letters already sent to them stay counted.", *notes]), "ok")
    return redirect(url_for("organize.targets", slug=slug))


def _import_text(form: ImportForm) -> tuple[str, str | None]:
    """The CSV to preview: the file chosen (put in the text box, where the confirmation posts it back), else the text
    pasted; and how the file was read when it was not UTF-8. Raises Invalid when there is none, or no CSV."""
    upload = form.csv_file.data
    if upload and getattr(upload, "filename", ""):
        form.csv_text.data, note = target_import.read_file(upload.read())
        return form.csv_text.data, note
    if not (form.csv_text.data or "").strip():
        raise invalid.Invalid({"csv_text": ["Choose a CSV file or paste its text."]})
    return form.csv_text.data or "", None


@bp.route("/c/<slug>/targets/import", methods=["GET", "POST"])
@bodies.takes_up_to(IMPORT_BYTES_MAX, IMPORT_TOO_LARGE)
def import_targets(slug: str):
    found = managed_campaign(slug)
    form = ImportForm()
    plan = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                text, note = _import_text(form)
            except invalid.Invalid as exc:
                attach_errors(form, exc.errors)
            else:
                plan = target_import.plan_import(found, current_organizer(), text, note)
                status = 200
                if request.form.get("step") == "apply":
                    if form.fingerprint.data != plan.fingerprint:
                        flash("The targets changed since the preview; check the new preview and apply again.", "error")
                    elif plan.applicable:
                        try:
                            counts = target_import.apply_import(found, current_organizer(), plan)
                        except invalid.Invalid as exc:
                            attach_errors(form, exc.errors, "csv_text")
                            status = 422
                        else:
                            db.session.commit()
                            flash(
                                f"Imported: {counts['add']} added, {counts['link']} existing added to this "
                                f"campaign, {counts['update']} updated.",
                                "ok",
                            )
                            if plan.skipped:  # the preview listed them; the organizer must not forget them now
                                flash(plan.skipped, "error")
                            return redirect(url_for("organize.targets", slug=slug))
                form.fingerprint.data = plan.fingerprint
    return (
        render_template(
            "organize/targets_import.html",
            campaign=found,
            form=form,
            plan=plan,
            columns=target_import.IMPORT_COLUMNS,
            tab="targets",
        ),
        status,
    )


@bp.route("/c/<slug>/targets.csv")
def targets_csv(slug: str):
    """The campaign's targets in the import format: edit in a spreadsheet and import it back."""
    found = managed_campaign(slug)
    csv = dashboard.targets_csv(found, target_import.IMPORT_COLUMNS)
    return dashboard.csv_download(csv, f"{found.slug}-targets.csv")
