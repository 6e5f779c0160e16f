"""The organizer workspace at /organize: log in, campaigns, targets, letters with live preview, dashboard, team."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from webapp.campaigns.content import LANGUAGE, TARGET_FIELDS
from webapp.core import framing
from webapp.core.rendering import SAMPLE_SUPPORTER
from webapp.cwc import report as cwc_report
from webapp.embed import service as embed_service
from webapp.errors import rate_limited
from webapp.extensions import db, login_manager
from webapp.i18n import gettext, language_name
from webapp.models import TARGET_KINDS, Campaign, utcnow
from webapp.organize import campaigns as organize_campaigns
from webapp.organize import congress as congress_links
from webapp.organize import dashboard, editor, invalid, letter_templates, names, target_health, target_import
from webapp.organize import targets as organize_targets
from webapp.organize.forms import (
    ActionForm,
    CampaignForm,
    ImportForm,
    LoginForm,
    MemberForm,
    NewCampaignForm,
    OrganizerEditForm,
    OrganizerForm,
    PasswordForm,
    ResourceForm,
    TargetForm,
    TemplateForm,
    TokenForm,
    TranslationForm,
    UpdateForm,
)
from webapp.organizers import accounts, permissions
from webapp.organizers.models import Organizer
from webapp.security import limits
from webapp.totals.service import campaign_totals

bp = Blueprint("organize", __name__, url_prefix="/organize")

PUBLIC = ("organize.login",)


@bp.before_request
def require_login():
    if request.endpoint not in PUBLIC and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # organizer pages never sit in a shared or back-button cache
    return response


@bp.context_processor
def workspace_context():
    return {
        "action_form": ActionForm(),
        "kind_names": names.KIND_NAMES,
        "channel_names": names.CHANNEL_NAMES,
        "channel_tags": names.CHANNEL_TAGS,
    }


def _organizer() -> Organizer:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _campaign(slug: str) -> Campaign:
    campaign = organize_campaigns.find_campaign(slug)
    manages = campaign is not None and accounts.can_manage(_organizer(), campaign)
    if campaign is None or (not manages and not campaign.published):
        abort(404)  # someone else's draft looks like no campaign at all: its address is not yet public
    if not manages:
        abort(403, description="You don't run this campaign. Ask an admin to add you to its team.")
    return campaign


def _admin_only() -> None:
    if not _organizer().is_admin:
        abort(403, description="Only admins can manage organizers.")


def _attach(form, errors: dict[str, list[str]], default: str | None = None) -> list[str]:
    """Put service errors next to their fields; returns the ones that belong to no field."""
    loose = []
    for key, messages in errors.items():
        field = getattr(form, key, None) if key in form else None
        if field is None and default:
            field = getattr(form, default)
        if field is None:
            loose += messages
        else:
            field.errors = [*field.errors, *messages]
    return loose


def _number(value: str) -> int:
    """An id from the URL. Rules take it as a string (not `<int:…>`) so that any malformed URL still meets the CSRF
    check and the log-in before a 404, like every other form endpoint."""
    if not value.isdigit() or len(value) > 12:
        abort(404)
    return int(value)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: a link to /organize/login?next=https://evil.example must not send anyone away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


# ---- logging in and out ---------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Failed passwords are limited per account and client address (webapp/security/limits.py), never the account
    as a whole: a stranger's guesses elsewhere cannot keep the right password out."""
    if current_user.is_authenticated:
        return redirect(url_for("organize.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        organizer = accounts.authenticate(form.email.data or "", form.password.data or "")
        if organizer is not None:
            previous_login = organizer.last_login_at
            session.clear()  # a fresh session: nothing from before the log-in carries over
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without use
            accounts.start_session(organizer)
            organizer.last_login_at = utcnow()
            db.session.commit()
            login_user(organizer)
            for token in accounts.tokens_made_since(organizer, previous_login):
                flash(
                    f"An API token “{token.name}” ({token.prefix}…) was made for your account on "
                    f"{token.created_at:%b %d, %Y at %H:%M} UTC. If that wasn't you, revoke it on your account page "
                    "and change your password.",
                    "error",
                )
            return redirect(_safe_next(request.args.get("next")) or url_for("organize.index"))
        form.password.errors = ["That email address and password don't match an organizer account."]
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("organize/login.html", form=form), status


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(exc: RateLimitExceeded):
    """The log-in limits answer on the page the organizer was using, the form kept, with when to try again."""
    seconds = limits.retry_after(exc)
    message = limits.explain(exc, seconds)
    headers = {"Retry-After": str(seconds)}
    if request.endpoint == "organize.login":
        form = LoginForm()
        form.password.errors = [message]
        return render_template("organize/login.html", form=form), 429, headers
    if request.endpoint == "organize.account":
        form = PasswordForm()
        form.current.errors = [message]
        return (*_account_page(password_form=form)[:1], 429, headers)
    if request.endpoint == "organize.create_token":
        form = TokenForm()
        form.password.errors = [message]
        return (*_account_page(token_form=form)[:1], 429, headers)
    return rate_limited(exc)


@bp.route("/logout", methods=["POST"])
def logout():
    if ActionForm().validate_on_submit():
        accounts.end_session(_organizer())  # on the server: a copy of the cookie opens nothing any more
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("organize.login"))


# ---- campaigns ------------------------------------------------------------------------------------------------


@bp.route("/")
def index():
    campaigns = accounts.managed_campaigns(_organizer())
    totals = {campaign.id: campaign_totals(db.session, campaign).totals for campaign in campaigns}
    return render_template("organize/index.html", campaigns=campaigns, totals=totals, form=NewCampaignForm())


@bp.route("/campaigns", methods=["POST"])
def create_campaign():
    form = NewCampaignForm()
    if form.validate_on_submit():
        try:
            campaign = organize_campaigns.create_campaign(
                _organizer(), title=form.title.data or "", slug=form.slug.data or "", congress=form.congress.data
            )
        except invalid.Invalid as exc:
            _attach(form, exc.errors, "title")
        else:
            flash(f"“{campaign.title}” is created as a draft. Add its targets and letters, then publish it.", "ok")
            return redirect(url_for("organize.campaign", slug=campaign.slug))
    campaigns = accounts.managed_campaigns(_organizer())
    return render_template("organize/index.html", campaigns=campaigns, totals={}, form=form, show_new=True), 422


def _campaign_page(campaign: Campaign, form: CampaignForm | None = None, status: int = 200, **forms):
    form = form or CampaignForm(obj=campaign, formdata=None)
    members_form = None
    members = accounts.members_of(campaign)
    if _organizer().is_admin:
        members_form = forms.pop("members_form", None) or MemberForm(formdata=None)
        member_ids = {o.id for o in members}
        members_form.email.choices = [
            SelectChoice(o.email, o.email) for o in accounts.all_organizers() if o.id not in member_ids
        ]
    return (
        render_template(
            "organize/campaign.html",
            campaign=campaign,
            form=form,
            update_form=forms.get("update_form") or UpdateForm(formdata=None),
            resource_form=forms.get("resource_form") or ResourceForm(formdata=None),
            members_form=members_form,
            members=members,
            publish_problems=organize_campaigns.publish_problems(campaign),
            tab="campaign",
        ),
        status,
    )


@bp.route("/c/<slug>/", methods=["GET", "POST"])
def campaign(slug: str):
    found = _campaign(slug)
    if request.method == "GET":
        return _campaign_page(found)
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            organize_campaigns.update_campaign(
                found,
                title=form.title.data or "",
                summary=form.summary.data or "",
                congress=form.congress.data,
                position=form.position.data,
            )
        except invalid.Invalid as exc:
            _attach(form, exc.errors, "title")
        else:
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
    found = _campaign(slug)
    action = STATE_ACTIONS.get(request.form.get("action", ""))
    if not ActionForm().validate_on_submit() or action is None:
        abort(400)
    what, value, message = action
    try:
        (organize_campaigns.set_published if what == "published" else organize_campaigns.set_closed)(found, value)
    except invalid.Invalid as exc:
        for messages in exc.errors.values():
            for text in messages:
                flash(text, "error")
    else:
        flash(message, "ok")
    return redirect(url_for("organize.campaign", slug=slug))


@bp.route("/c/<slug>/updates", methods=["POST"])
def add_update(slug: str):
    found = _campaign(slug)
    form = UpdateForm()
    if form.validate_on_submit():
        try:
            organize_campaigns.add_update(found, form.date.data, form.text.data or "")
        except invalid.Invalid as exc:
            _attach(form, exc.errors, "text")
        else:
            flash("Update added: it shows above the actions on the campaign page.", "ok")
            return redirect(url_for("organize.campaign", slug=slug, _anchor="updates"))
    return _campaign_page(found, status=422, update_form=form)


@bp.route("/c/<slug>/updates/<update_id>/delete", methods=["POST"])
def delete_update(slug: str, update_id: str):
    update_id = _number(update_id)
    found = _campaign(slug)
    if ActionForm().validate_on_submit() and organize_campaigns.remove_update(found, update_id):
        flash("Update removed.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="updates"))


@bp.route("/c/<slug>/resources", methods=["POST"])
def add_resource(slug: str):
    found = _campaign(slug)
    form = ResourceForm()
    if form.validate_on_submit():
        try:
            organize_campaigns.add_resource(
                found, form.kind.data, form.name.data or "", form.url.data, form.description.data or ""
            )
        except invalid.Invalid as exc:
            _attach(form, exc.errors, "name")
        else:
            flash("Added to “More you can do”.", "ok")
            return redirect(url_for("organize.campaign", slug=slug, _anchor="resources"))
    return _campaign_page(found, status=422, resource_form=form)


@bp.route("/c/<slug>/resources/<resource_id>/delete", methods=["POST"])
def delete_resource(slug: str, resource_id: str):
    resource_id = _number(resource_id)
    found = _campaign(slug)
    if ActionForm().validate_on_submit() and organize_campaigns.remove_resource(found, resource_id):
        flash("Removed.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="resources"))


@bp.route("/c/<slug>/members", methods=["POST"])
def add_member(slug: str):
    _admin_only()
    found = _campaign(slug)
    form = MemberForm()
    form.email.choices = [SelectChoice(o.email, o.email) for o in accounts.all_organizers()]
    organizer = accounts.find_organizer(form.email.data or "") if form.validate_on_submit() else None
    if organizer is not None and accounts.add_member(found, organizer):
        db.session.commit()
        flash(f"{organizer.email} can now run this campaign.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="team"))


@bp.route("/c/<slug>/members/<organizer_id>/delete", methods=["POST"])
def remove_member(slug: str, organizer_id: str):
    organizer_id = _number(organizer_id)
    _admin_only()
    found = _campaign(slug)
    organizer = db.session.get(Organizer, organizer_id)
    if ActionForm().validate_on_submit() and organizer is not None and accounts.remove_member(found, organizer):
        db.session.commit()
        flash(f"{organizer.email} no longer runs this campaign.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="team"))


# ---- targets --------------------------------------------------------------------------------------------------


@bp.route("/c/<slug>/targets")
def targets(slug: str):
    found = _campaign(slug)
    return render_template(
        "organize/targets.html", campaign=found, health=target_health.target_health(found), tab="targets"
    )


def _target_values(form: TargetForm) -> dict:
    return {name: getattr(form, name).data or "" for name in TARGET_FIELDS}


@bp.route("/c/<slug>/targets/new", methods=["GET", "POST"])
def new_target(slug: str):
    found = _campaign(slug)
    form = TargetForm()
    status = 200
    if form.validate_on_submit():
        try:
            target = organize_targets.add_target(found, _organizer(), _target_values(form), form.id.data or "")
        except invalid.Invalid as exc:
            _attach(form, exc.errors, "name")
            status = 422
        else:
            flash(f"{target.name} added. Choose them in a letter's “who it is for” to write to them.", "ok")
            return redirect(url_for("organize.targets", slug=slug))
    elif request.method == "POST":
        status = 422
    return render_template("organize/target_form.html", campaign=found, form=form, target=None, tab="targets"), status


@bp.route("/c/<slug>/targets/<target_id>/edit", methods=["GET", "POST"])
def edit_target(slug: str, target_id: str):
    found = _campaign(slug)
    target = organize_targets.campaign_target(found, target_id)
    if target is None:
        abort(404)
    form = TargetForm(obj=target) if request.method == "GET" else TargetForm()
    editable = permissions.may_update(_organizer(), found, target)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                changed = organize_targets.update_target(found, _organizer(), target_id, _target_values(form))
            except invalid.Invalid as exc:
                _attach(form, exc.errors, "name")
            else:
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
    found = _campaign(slug)
    if ActionForm().validate_on_submit():
        notes = organize_targets.remove_target(found, _organizer(), target_id)
        flash(" ".join(["Removed from this campaign; the letters already sent to them stay counted.", *notes]), "ok")
    return redirect(url_for("organize.targets", slug=slug))


@bp.route("/c/<slug>/targets/import", methods=["GET", "POST"])
def import_targets(slug: str):
    found = _campaign(slug)
    form = ImportForm()
    plan = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            text = form.csv_text.data or ""
            upload = form.csv_file.data
            if upload and getattr(upload, "filename", ""):
                text = upload.read().decode("utf-8-sig", errors="replace")
            form.csv_text.data = text
            if not text.strip():
                form.csv_text.errors = ["Choose a CSV file or paste its text."]
            else:
                plan = target_import.plan_import(found, _organizer(), text)
                status = 200
                if request.form.get("step") == "apply":
                    if form.fingerprint.data != plan.fingerprint:
                        flash("The targets changed since the preview; check the new preview and apply again.", "error")
                    elif plan.applicable:
                        try:
                            counts = target_import.apply_import(found, _organizer(), plan)
                        except invalid.Invalid as exc:
                            _attach(form, exc.errors, "csv_text")
                            status = 422
                        else:
                            flash(
                                f"Imported: {counts['add']} added, {counts['link']} existing added to this "
                                f"campaign, {counts['update']} updated.",
                                "ok",
                            )
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
    found = _campaign(slug)
    csv = dashboard.targets_csv(found, target_import.IMPORT_COLUMNS)
    return dashboard.csv_download(csv, f"{found.slug}-targets.csv")


# ---- letters --------------------------------------------------------------------------------------------------


@bp.route("/c/<slug>/letters")
def letters(slug: str):
    found = _campaign(slug)
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


# A new letter starts framed: "Dear …," and the sign-off are added (webapp/core/framing.py), so this is all of it.
STARTER_BODY = """Write the letter here, in your campaign's words: what has happened, and what you ask them to do.
"""


@bp.route("/c/<slug>/letters/new", methods=["GET", "POST"])
def new_letter(slug: str):
    found = _campaign(slug)
    form = _template_form(found, TemplateForm())
    if request.method == "GET":
        form.body.data = STARTER_BODY
        form.salutation_and_signoff.data = True
        form.channels.data = ["smtp", "mailto", "print"] if not found.congress else ["contact_form", "print"]
        return _editor(found, form)
    if not form.validate_on_submit():
        return _editor(found, form, status=422)
    try:
        template, _changed = letter_templates.save_template(found, _template_input(form), author=_organizer().email)
    except invalid.TemplateInvalid as exc:
        loose = _attach(form, {k: v for k, v in exc.errors.items() if k not in ("subject", "body")})
        return _editor(found, form, problems=exc.problems, loose=loose, status=422)
    except invalid.Invalid as exc:
        return _editor(found, form, loose=_attach(form, exc.errors), status=422)
    flash(f"Saved “{template.name}” (version 1). It is not offered to supporters until you publish it.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template.slug))


@bp.route("/c/<slug>/letters/<template_slug>", methods=["GET", "POST"])
def letter(slug: str, template_slug: str):
    found = _campaign(slug)
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
    base = int(form.base_version.data) if (form.base_version.data or "").isdigit() else None
    try:
        template, changed = letter_templates.save_template(
            found, _template_input(form), author=_organizer().email, slug=template.slug, base_version=base
        )
    except invalid.TemplateInvalid as exc:
        loose = _attach(form, {k: v for k, v in exc.errors.items() if k not in ("subject", "body")})
        return _editor(found, form, template, problems=exc.problems, loose=loose, status=422)
    except invalid.Invalid as exc:
        form.base_version.data = str(template.version)  # saving again replaces the other person's version, knowingly
        return _editor(found, form, template, loose=_attach(form, exc.errors), status=409)
    flash(f"Saved as version {template.version}." if changed else "Nothing had changed, so no new version.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template.slug))


@bp.route("/c/<slug>/letters/preview", methods=["POST"])
def preview(slug: str):
    """The live preview: JSON in (same-origin fetch with the CSRF token in a header), the rendered letter out."""
    found = _campaign(slug)
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
    found = _campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    if ActionForm().validate_on_submit():
        live = request.form.get("active") == "1"
        letter_templates.set_template_active(template, live)
        if live and found.published and not found.closed:
            flash(f"“{template.name}” is published: supporters can choose it now.", "ok")
        elif live:
            flash(f"“{template.name}” is published: supporters can choose it once the campaign is live.", "ok")
        else:
            flash(f"“{template.name}” is no longer offered. Letters already written with it stay counted.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template_slug))


@bp.route("/c/<slug>/letters/<template_slug>/languages/<language>", methods=["GET", "POST"])
def translation(slug: str, template_slug: str, language: str):
    """One language's version of a letter: written beside the letter's own text, checked like it, kept as a version."""
    found = _campaign(slug)
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
        base = int(form.base_version.data) if (form.base_version.data or "").isdigit() else None
        remove = request.form.get("remove") == "1"
        text = None if remove else {"name": form.name.data, "subject": form.subject.data, "body": form.body.data}
        try:
            changed = letter_templates.save_translation(
                found, template, language, text, author=_organizer().email, base_version=base
            )
        except invalid.TemplateInvalid as exc:
            form.body.errors = [str(problem) for problem in exc.problems] + [m for v in exc.errors.values() for m in v]
            status = 422
        except invalid.Invalid as exc:
            messages = [message for values in exc.errors.values() for message in values]
            form.body.errors = [*form.body.errors, *messages]
            form.base_version.data = str(template.version)
            status = 409 if "version" in exc.errors else 422
        else:
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
    found = _campaign(slug)
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
    version = _number(version)
    found = _campaign(slug)
    template = letter_templates.find_template(found, template_slug)
    if template is None:
        abort(404)
    if ActionForm().validate_on_submit():
        try:
            letter_templates.restore_version(found, template, version, _organizer().email)
        except invalid.Invalid as exc:
            for messages in exc.errors.values():
                for text in messages:
                    flash(f"Version {version} can't be restored as it is: {text}", "error")
            return redirect(url_for("organize.versions", slug=slug, template_slug=template_slug))
        flash(f"Version {version} is back, saved as version {template.version}.", "ok")
    return redirect(url_for("organize.letter", slug=slug, template_slug=template_slug))


# ---- members of Congress: contact-form links -------------------------------------------------------------------


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
            is_admin=_organizer().is_admin,
            tab="congress",
        ),
        status,
    )


@bp.route("/c/<slug>/congress")
def congress(slug: str):
    return _congress_page(_campaign(slug))


@bp.route("/c/<slug>/congress/<target_id>/form-link", methods=["POST"])
def congress_form_link(slug: str, target_id: str):
    found = _campaign(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    remove = request.form.get("action") == "remove"
    try:
        if remove:
            congress_links.remove_form_link(_organizer(), found, target_id)
        else:
            congress_links.save_form_link(_organizer(), found, target_id, request.form.get("url") or "")
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


# ---- dashboard and exports ------------------------------------------------------------------------------------


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
    return _dashboard_page(_campaign(slug))


@bp.route("/c/<slug>/embed", methods=["POST"])
def embed_origins(slug: str):
    found = _campaign(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    typed = (request.form.get("origins") or "")[:5000]
    try:
        origins = embed_service.set_origins(found, typed.splitlines())
    except embed_service.InvalidOrigins as exc:
        return _dashboard_page(found, typed, exc.problems, 422)
    flash(
        gettext("Saved: the campaign can be embedded on %(sites)s.", sites=", ".join(origins))
        if origins
        else gettext("Saved: no other site may embed the campaign now."),
        "ok",
    )
    return redirect(url_for("organize.campaign_dashboard", slug=slug, _anchor="embed"))


@bp.route("/c/<slug>/export/totals-per-target.csv")
def export_targets(slug: str):
    found = _campaign(slug)
    return dashboard.csv_download(dashboard.totals_csv(found), f"{found.slug}-totals-per-target.csv")


@bp.route("/c/<slug>/export/totals-per-day.csv")
def export_days(slug: str):
    found = _campaign(slug)
    return dashboard.csv_download(dashboard.days_csv(found), f"{found.slug}-totals-per-day.csv")


@bp.route("/c/<slug>/export/letters.csv")
def export_letters(slug: str):
    found = _campaign(slug)
    return dashboard.csv_download(stream_with_context(dashboard.letters_csv(found)), f"{found.slug}-letters.csv")


# ---- the organizer's own account ------------------------------------------------------------------------------


def _account_page(password_form=None, token_form=None, new_token: str | None = None, status: int = 200):
    return (
        render_template(
            "organize/account.html",
            password_form=password_form or PasswordForm(formdata=None),
            token_form=token_form or TokenForm(formdata=None),
            tokens=accounts.tokens_of(_organizer()),
            new_token=new_token,
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
def account():
    if request.method == "GET":
        return _account_page()
    form = PasswordForm()
    organizer = _organizer()
    if form.validate_on_submit():
        if accounts.authenticate(organizer.email, form.current.data or "") is None:
            form.current.errors = ["That is not your current password."]
        elif (form.new.data or "") != (form.confirm.data or ""):
            form.confirm.errors = ["The two new passwords are different."]
        else:
            try:
                accounts.set_password(organizer, form.new.data or "")
            except accounts.AccountError as exc:
                form.new.errors = [str(exc)]
            else:
                accounts.start_session(organizer)  # this browser stays logged in; every other one is out
                db.session.commit()
                login_user(organizer)
                flash(
                    "Password changed. Any other browser logged in as you has been logged out, and your API tokens "
                    "are revoked: make new ones for your scripts.",
                    "ok",
                )
                return redirect(url_for("organize.account"))
    return _account_page(password_form=form, status=422)


@bp.route("/account/tokens", methods=["POST"])
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return _account_page(token_form=form, status=422)
    organizer = _organizer()
    if accounts.authenticate(organizer.email, form.password.data or "") is None:
        form.password.errors = ["That is not your password."]
        return _account_page(token_form=form, status=403)
    token, _record = accounts.issue_token(organizer, form.name.data or "")
    db.session.commit()
    return _account_page(new_token=token)


@bp.route("/account/tokens/<token_id>/revoke", methods=["POST"])
def revoke_token(token_id: str):
    token_id = _number(token_id)
    if ActionForm().validate_on_submit() and accounts.revoke_token(_organizer(), token_id):
        flash("Token revoked: it no longer opens the API.", "ok")
    return redirect(url_for("organize.account"))


# ---- organizers (admins) --------------------------------------------------------------------------------------


def _organizers_page(form: OrganizerForm | None = None, created: tuple[str, str] | None = None, status: int = 200):
    campaigns = accounts.managed_campaigns(_organizer())
    form = form or OrganizerForm(formdata=None)
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in campaigns]
    organizers = accounts.all_organizers()
    runs = {o.id: [m.campaign for m in o.memberships] for o in organizers}
    return (
        render_template("organize/organizers.html", form=form, organizers=organizers, runs=runs, created=created),
        status,
    )


@bp.route("/organizers", methods=["GET", "POST"])
def organizers():
    _admin_only()
    if request.method == "GET":
        return _organizers_page()
    form = OrganizerForm()
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in accounts.managed_campaigns(_organizer())]
    if form.validate_on_submit():
        password = accounts.generated_password()
        try:
            organizer = accounts.create_organizer(form.email.data or "", password, form.role.data)
        except accounts.AccountError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.flush()
            for slug in form.campaigns.data or []:
                campaign = organize_campaigns.find_campaign(slug)
                if campaign is not None:
                    accounts.add_member(campaign, organizer)
            db.session.commit()
            return _organizers_page(created=(organizer.email, password))
    return _organizers_page(form, status=422)


@bp.route("/organizers/<organizer_id>", methods=["GET", "POST"])
def organizer(organizer_id: str):
    organizer_id = _number(organizer_id)
    _admin_only()
    found = db.session.get(Organizer, organizer_id)
    if found is None:
        abort(404)
    campaigns = accounts.managed_campaigns(_organizer())
    form = OrganizerEditForm(obj=found) if request.method == "GET" else OrganizerEditForm()
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in campaigns]
    new_password = None
    if request.method == "GET":
        form.campaigns.data = [m.campaign.slug for m in found.memberships]
    elif form.validate_on_submit():
        if request.form.get("action") == "reset":
            new_password = accounts.generated_password()
            accounts.set_password(found, new_password)
            db.session.commit()
        elif found.id == _organizer().id and (form.role.data != found.role or not form.active.data):
            flash("You can't take away your own admin role or log-in; ask another admin.", "error")
        else:
            found.role = form.role.data
            if found.active and not form.active.data:
                accounts.deactivate(found)  # signed out at once, and every API token revoked
            found.active = bool(form.active.data)
            wanted = set(form.campaigns.data or [])
            for campaign in campaigns:
                (accounts.add_member if campaign.slug in wanted else accounts.remove_member)(campaign, found)
            db.session.commit()
            flash(f"Saved {found.email}.", "ok")
            return redirect(url_for("organize.organizers"))
    return render_template("organize/organizer.html", form=form, organizer=found, new_password=new_password)
