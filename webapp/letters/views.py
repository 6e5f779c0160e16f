"""The supporter's pages: write, preview and edit, send or hand off, and watch the letters' status."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from wtforms.fields.choices import SelectChoice

from webapp.campaigns.service import active_templates, campaign_targets, find_campaign
from webapp.delivery.ssrf import RefusedHost
from webapp.letters import service, words
from webapp.letters.handoff import tel_uri
from webapp.letters.forms import SendForm, WriteForm
from webapp.letters.providers import PROVIDERS
from webapp.models import EMAIL_CHANNELS, MAILTO, SMTP, Campaign, LetterTemplate, Target

bp = Blueprint("letters", __name__)
bp.add_app_template_filter(tel_uri, "tel")

ACTIONS = (SMTP, MAILTO)


def _campaign(slug: str) -> Campaign:
    campaign = find_campaign(slug)
    if campaign is None:
        abort(404)
    return campaign


def _offer(form: WriteForm, campaign: Campaign) -> tuple[list[Target], list[LetterTemplate]]:
    targets = campaign_targets(campaign)
    templates = active_templates(campaign)
    form.targets.choices = [SelectChoice(target.id, target.name) for target in targets]
    form.template.choices = [SelectChoice(template.slug, template.name) for template in templates]
    return targets, templates


def _render_write(form: WriteForm, campaign: Campaign, targets, templates, status: int = 200):
    return (
        render_template("letters/write.html", form=form, campaign=campaign, targets=targets, templates=templates),
        status,
    )


def _attach(form: WriteForm, errors: dict[str, list[str]]) -> None:
    """Put service errors next to the fields they are about."""
    for key, messages in errors.items():
        field = getattr(form, key, None) if key in ("targets", "template") else None
        field = field or form.targets
        field.errors = [*field.errors, *messages]


@bp.route("/c/<slug>/write", methods=["GET", "POST"])
def write(slug: str):
    campaign = _campaign(slug)
    form = WriteForm()
    targets, templates = _offer(form, campaign)
    if request.method == "GET":
        wanted = [t for t in request.args.getlist("target") if t in {target.id for target in targets}]
        form.targets.data = wanted or ([targets[0].id] if len(targets) == 1 else [])
        fitting = [t for t in templates if any(t.fits(target) for target in targets if target.id in form.targets.data)]
        chosen = request.args.get("template")
        form.template.data = chosen if chosen in {t.slug for t in templates} else (fitting[0].slug if fitting else None)
        return _render_write(form, campaign, targets, templates)
    if not form.validate_on_submit():
        return _render_write(form, campaign, targets, templates, 422)
    try:
        template, chosen_targets = service.choose(campaign, form.template.data, form.targets.data, channel=None)
        supporter = service.Supporter(**form.supporter_fields())
        drafts = service.draft_letters(campaign, template, chosen_targets, supporter)
    except service.NotFound as exc:
        form.template.errors = [*form.template.errors, str(exc)]
        return _render_write(form, campaign, targets, templates, 422)
    except service.SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _render_write(form, campaign, targets, templates, 422)
    send_form = SendForm(formdata=None, data={**form.supporter_fields(), "targets": form.targets.data, "template": template.slug})
    _offer(send_form, campaign)
    for draft in drafts:
        send_form.letters.append_entry({"target": draft.target.id, "subject": draft.subject, "body": draft.body})
    return _render_preview(send_form, campaign, template, drafts)


def _channels(template: LetterTemplate, targets: list[Target]) -> list[str]:
    """Email channels every chosen target can take with this letter."""
    return [c for c in EMAIL_CHANNELS if all(c in template.channels_for(target) for target in targets)]


def _render_preview(form: SendForm, campaign: Campaign, template: LetterTemplate, drafts, status: int = 200):
    by_target = {draft.target.id: draft for draft in drafts}
    shares = {}
    for entry in form.letters:
        draft = by_target.get(entry.form.target.data)
        if draft is not None:
            shares[draft.target.id] = draft.share(entry.form.body.data or "")
    targets = [draft.target for draft in drafts]
    return (
        render_template(
            "letters/preview.html",
            form=form,
            campaign=campaign,
            template=template,
            drafts=by_target,
            shares=shares,
            describe_share=words.describe,
            channels=_channels(template, targets),
            blocked=[t for t in targets if t.no_email_reason],
            providers=PROVIDERS,
        ),
        status,
    )


@bp.route("/c/<slug>/send", methods=["POST"])
def send(slug: str):
    campaign = _campaign(slug)
    form = SendForm()
    targets, templates = _offer(form, campaign)
    action = request.form.get("action")
    if action == "edit":
        back = WriteForm()
        _offer(back, campaign)
        return _render_write(back, campaign, targets, templates)
    if not form.validate_on_submit() or action not in ACTIONS:
        return _preview_or_write(form, campaign, targets, templates)
    try:
        template, chosen = service.choose(campaign, form.template.data, form.targets.data, channel=action)
    except (service.NotFound, service.SubmissionInvalid) as exc:
        errors = exc.errors if isinstance(exc, service.SubmissionInvalid) else {"template": [str(exc)]}
        _attach(form, errors)
        return _preview_or_write(form, campaign, targets, templates)
    edits = {entry.form.target.data: (entry.form.subject.data, entry.form.body.data) for entry in form.letters}
    if set(edits) != {target.id for target in chosen}:
        form.targets.errors = [*form.targets.errors, "The letters don't match who you chose; please check them again."]
        return _preview_or_write(form, campaign, targets, templates)
    account = None
    if action == SMTP:
        account = form.smtp_account()
        if account is None:
            return _preview_or_write(form, campaign, targets, templates)
        try:
            service.check_smtp_host(account.host, account.port)
        except RefusedHost as exc:
            form.smtp_host.errors = [*form.smtp_host.errors, str(exc)]
            return _preview_or_write(form, campaign, targets, templates)
    try:
        submission = service.submit(
            campaign, template, chosen, service.Supporter(**form.supporter_fields()), action, edits=edits, account=account
        )
    except service.SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.smtp_password.errors = [*form.smtp_password.errors, "We couldn't store your password safely just now. Please try again in a minute."]
        return _preview_or_write(form, campaign, targets, templates, 503)
    return redirect(url_for("letters.status", submission_id=submission.id), 303)


def _preview_or_write(form: SendForm, campaign: Campaign, targets, templates, status: int = 422):
    """Show the preview again with the errors and everything typed (the password excepted)."""
    form.smtp_password.data = ""
    template = next((t for t in templates if t.slug == form.template.data), None)
    chosen = [t for t in targets if t.id in (form.targets.data or [])]
    if template is None or not chosen:
        return _render_write(form, campaign, targets, templates, status)
    supporter_ok = not any(getattr(form, name).errors for name in ("name", "email", "zip", "address", "note"))
    fields = form.supporter_fields()
    supporter = service.Supporter(**fields) if supporter_ok else service.Supporter(
        name=fields["name"] or "", email=fields["email"] or "", zip=fields["zip"] or ""
    )
    try:
        drafts = service.draft_letters(campaign, template, chosen, supporter)
    except service.SubmissionInvalid:
        return _render_write(form, campaign, targets, templates, status)
    return _render_preview(form, campaign, template, drafts, status)


@bp.route("/s/<submission_id>")
def status(submission_id: str):
    submission = service.find_submission(submission_id)
    if submission is None:
        abort(404)
    return render_template("letters/status.html", submission=submission, view=service.submission_view(submission))
