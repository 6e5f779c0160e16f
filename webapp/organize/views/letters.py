"""A campaign's letters: the list, the editor with its live preview, publishing one, its other languages'
versions and its kept versions."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from webapp.campaigns.content import LANGUAGE
from webapp.core import framing
from webapp.core.rendering import SAMPLE_SUPPORTER
from webapp.cwc import report as cwc_report
from webapp.extensions import db
from webapp.i18n import gettext, language_name
from webapp.models import TARGET_KINDS, Campaign
from webapp.organize import editor, invalid, letter_templates, names
from webapp.organize.forms import ActionForm, TemplateForm, TranslationForm
from webapp.organize.views.workspace import (
    attach_errors,
    bp,
    current_organizer,
    managed_campaign,
    plain_number,
    url_number,
)
from webapp.security import bodies


@bp.route("/c/<slug>/letters")
def letters(slug: str):
    found = managed_campaign(slug)
    counts = letter_templates.letters_per_template(found)
    return render_template(
        "organize/letters.html",
        campaign=found,
        counts=counts,
        tab="letters",
        missing=letter_templates.missing_translations,
    )


def _template_form(campaign: Campaign, form: TemplateForm) -> TemplateForm:
    form.target_ids.choices = [SelectChoice(t.id, t.name) for t in campaign.targets]
    form.target_kinds.choices = [SelectChoice(kind, names.KIND_NAMES[kind]) for kind in TARGET_KINDS]
    return form


def _template_input(form: TemplateForm) -> letter_templates.TemplateInput:
    return letter_templates.TemplateInput(
        name=form.name.data or "",
        subject=form.subject.data or "",
        body=form.body.data or "",
        target_ids=form.target_ids.data or [],
        target_kinds=form.target_kinds.data or [],
        channels=form.channels.data or [],
        min_note_length=form.min_note_length.data or 0,
        slug=form.slug.data or "",
        salutation_and_signoff=bool(form.salutation_and_signoff.data),
        cwc_topics=form.cwc_topics.data or [],
    )


def _editor(campaign: Campaign, form: TemplateForm, template=None, problems=None, loose=None, status: int = 200):
    body = form.body.data or ""
    subject = form.subject.data or ""
    return (
        render_template(
            "organize/letter_edit.html",
            campaign=campaign,
            form=form,
            template=template,
            problems=[editor.problem_view(p, subject, body) for p in (problems or [])],
            loose=loose or [],
            warnings=letter_templates.template_warnings(campaign, template) if template is not None else [],
            preview_targets=editor.preview_targets(campaign),
            preview_default=_preview_default(form),
            variables=editor.VARIABLES,
            fields=editor.FIELD_BUTTONS,
            frame=framing,
            sample=SAMPLE_SUPPORTER,
            cwc=cwc_report.setup(),
            missing_translations=letter_templates.missing_translations(template) if template is not None else [],
            tab="letters",
        ),
        status,
    )


def _preview_default(form: TemplateForm) -> str:
    """Preview the letter for someone it is for: its first target, else a sample of its first kind."""
    if form.target_ids.data:
        return form.target_ids.data[0]
    return f"sample-{form.target_kinds.data[0]}" if form.target_kinds.data else ""


def _base_version(value: str | None) -> int | None:
    """The version the editor was opened at: None when the form carries none; when it is no plain number (edited by
    hand?), 0, a version no letter has, so the save stops as if someone had saved in between rather than overwrite."""
    if not (value or "").strip():
        return None
    number = plain_number(value.strip())
    return 0 if number is None else number


# A new letter starts framed: "Dear …," and the sign-off are added (webapp/core/framing.py), so this is all of it.
STARTER_BODY = """Write the letter here, in your campaign's words: what has happened, and what you ask them to do.
"""


@bp.route("/c/<slug>/letters/new", methods=["GET", "POST"])
@bodies.takes_a_letter
def new_letter(slug: str):
    found = managed_campaign(slug)
    form = _template_form(found, TemplateForm())
    if request.method == "GET":
        form.body.data = STARTER_BODY
        form.salutation_and_signoff.data = True
        form.channels.data = ["smtp", "mailto", "print"] if not found.congress else ["contact_form", "print"]
        return _editor(found, form)
    if not form.validate_on_submit():
        return _editor(found, form, status=422)
    try:
        template, _changed = letter_templates.save_template(
            found, _template_input(form), author=current_organizer().email
        )
    except invalid.TemplateInvalid as exc:
        loose = attach_errors(form, {k: v for k, v in exc.errors.items() if k not in ("subject", "body")})
        return _editor(found, form, problems=exc.problems, loose=loose, status=422)
    except invalid.Invalid as exc:
        return _editor(found, form, loose=attach_errors(form, exc.errors), status=422)
    db.session.commit()
    flash(f"Saved “{template.name}” (version 1). It is not offered to supporters until you publish it.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template.slug))


@bp.route("/c/<slug>/letters/<template_slug>", methods=["GET", "POST"])
@bodies.takes_a_letter
def letter(slug: str, template_slug: str):
    found = managed_campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    if request.method == "GET":
        form = _template_form(found, TemplateForm(obj=template, formdata=None))
        form.base_version.data = str(template.version)
        return _editor(found, form, template)
    form = _template_form(found, TemplateForm())
    if not form.validate_on_submit():
        return _editor(found, form, template, status=422)
    base = _base_version(form.base_version.data)
    try:
        template, changed = letter_templates.save_template(
            found, _template_input(form), author=current_organizer().email, slug=template.slug, base_version=base
        )
    except invalid.TemplateInvalid as exc:
        loose = attach_errors(form, {k: v for k, v in exc.errors.items() if k not in ("subject", "body")})
        return _editor(found, form, template, problems=exc.problems, loose=loose, status=422)
    except invalid.Invalid as exc:
        db.session.rollback()  # a save that lost the race flushed half of itself; the letter reloads as it is now
        form.base_version.data = str(template.version)  # saving again replaces the other person's version, knowingly
        return _editor(found, form, template, loose=attach_errors(form, exc.errors), status=409)
    db.session.commit()
    flash(f"Saved as version {template.version}." if changed else "Nothing had changed, so no new version.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template.slug))


@bp.route("/c/<slug>/letters/preview", methods=["POST"])
@bodies.takes_a_letter
def preview(slug: str):
    """The live preview: JSON in (same-origin fetch with the CSRF token in a header), the rendered letter out."""
    found = managed_campaign(slug)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)

    def strings(key: str) -> list[str]:
        value = data.get(key)
        return [str(v) for v in value][:200] if isinstance(value, list) else []

    return jsonify(
        editor.preview(
            found,
            subject=str(data.get("subject") or "")[:2000],
            body=str(data.get("body") or "")[:40000],
            target_ref=str(data.get("target") or ""),
            with_note=bool(data.get("with_note", True)),
            channels=strings("channels"),
            target_ids=strings("target_ids"),
            target_kinds=strings("target_kinds"),
            salutation_and_signoff=data.get("salutation_and_signoff") is True,
        )
    )


@bp.route("/c/<slug>/letters/<template_slug>/active", methods=["POST"])
def letter_active(slug: str, template_slug: str):
    found = managed_campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    if ActionForm().validate_on_submit():
        live = request.form.get("active") == "1"
        try:
            letter_templates.set_template_active(template, live)
        except invalid.Invalid:
            db.session.rollback()
            flash("Someone saved this letter just now; look at it again, then publish or retire it.", "error")
            return redirect(url_for("organize.letter", slug=slug, template_slug=template_slug))
        db.session.commit()
        if live and found.published and not found.closed:
            flash(f"“{template.name}” is published: supporters can choose it now.", "ok")
        elif live:
            flash(f"“{template.name}” is published: supporters can choose it once the campaign is live.", "ok")
        else:
            flash(f"“{template.name}” is no longer offered. Letters already written with it stay counted.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template_slug))


@bp.route("/c/<slug>/letters/<template_slug>/languages/<language>", methods=["GET", "POST"])
@bodies.takes_a_letter
def translation(slug: str, template_slug: str, language: str):
    """One language's version of a letter: written beside the letter's own text, checked like it, kept as a version."""
    found = managed_campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None or not LANGUAGE.match(language) or language == (template.language or "en"):
        abort(404)
    existing = (template.translations or {}).get(language)
    form = TranslationForm()
    status = 200
    if request.method == "GET":
        form = TranslationForm(formdata=None, data=existing or {})
        form.base_version.data = str(template.version)
    elif form.validate_on_submit():
        base = _base_version(form.base_version.data)
        remove = request.form.get("remove") == "1"
        text = None if remove else {"name": form.name.data, "subject": form.subject.data, "body": form.body.data}
        try:
            changed = letter_templates.save_translation(
                found, template, language, text, author=current_organizer().email, base_version=base
            )
        except invalid.TemplateInvalid as exc:
            form.body.errors = [str(problem) for problem in exc.problems] + [m for v in exc.errors.values() for m in v]
            status = 422
        except invalid.Invalid as exc:
            db.session.rollback()  # as for the letter itself: reload it as it is now
            messages = [message for values in exc.errors.values() for message in values]
            form.body.errors = [*form.body.errors, *messages]
            form.base_version.data = str(template.version)
            status = exc.status  # 409 when someone saved in between
        else:
            db.session.commit()
            name = language_name(language, "en")
            if remove:
                flash(gettext("Removed the %(language)s version.", language=name), "ok")
            elif changed:
                flash(gettext("Saved the %(language)s version as version %(version)s.", language=name,
                              version=template.version), "ok")  # fmt: skip
            else:
                flash(gettext("Nothing had changed, so no new version."), "ok")
            return redirect(url_for("organize.letter", slug=slug, template_slug=template.slug))
    else:
        status = 422
    return (
        render_template(
            "organize/translation_edit.html",
            campaign=found,
            template=template,
            form=form,
            language=language,
            existing=existing,
            tab="letters",
        ),
        status,
    )


@bp.route("/c/<slug>/letters/<template_slug>/versions")
def versions(slug: str, template_slug: str):
    found = managed_campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    return render_template(
        "organize/versions.html",
        campaign=found,
        template=template,
        versions=letter_templates.versions_of(template),
        letters=letter_templates.letters_per_version(template),
        tab="letters",
    )


@bp.route("/c/<slug>/letters/<template_slug>/versions/<version>/restore", methods=["POST"])
def restore(slug: str, template_slug: str, version: str):
    version = url_number(version)
    found = managed_campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    if ActionForm().validate_on_submit():
        try:
            letter_templates.restore_version(found, template, version, current_organizer().email)
        except invalid.Invalid as exc:
            db.session.rollback()
            for messages in exc.errors.values():
                for text in messages:
                    flash(f"Version {version} can't be restored as it is: {text}", "error")
            return redirect(url_for("organize.versions", slug=slug, template_slug=template_slug))
        db.session.commit()
        flash(f"Version {version} is back, saved as version {template.version}.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template_slug))
