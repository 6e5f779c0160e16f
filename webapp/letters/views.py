"""The supporter's pages: write, preview and edit, send or hand off, call, print, and watch the letters' status."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from webapp.campaigns.service import call_scripts, campaign_targets, find_campaign, letter_templates
from webapp.congress import service as congress
from webapp.delivery.ssrf import RefusedHost
from webapp.letters import providers, service, words
from webapp.letters.forms import CallForm, ConfirmForm, ForgetForm, RetryForm, SendForm, WriteForm
from webapp.letters.handoff import tel_uri
from webapp.letters.providers import GOOGLE, MICROSOFT
from webapp.mailauth import service as mailauth
from webapp.mailauth.service import clients as oauth_clients
from webapp.models import CALL, CONTACT_FORM, MAILTO, PRINT, SMTP, Campaign, LetterTemplate, Target
from webapp.privacy import service as privacy
from webapp.security import limits

bp = Blueprint("letters", __name__)
bp.add_app_template_filter(tel_uri, "tel")

# How a written letter can leave, in the order the preview page offers them.
SEND_CHANNELS = (SMTP, MAILTO, CONTACT_FORM, PRINT)
SUPPORTER_FIELDS = ("name", "email", "zip", "address", "note")


def _campaign(slug: str) -> Campaign:
    campaign = find_campaign(slug, page=False)
    if campaign is None:
        abort(404)
    if campaign.closed and request.method == "GET":
        # Nothing to write any more: the campaign page thanks supporters and shows the totals.
        abort(redirect(url_for("campaigns.campaign", slug=slug), 303))
    return campaign


def _legislators(campaign: Campaign, zip_code: str | None) -> list[Target]:
    """The members of Congress for this ZIP, if the campaign writes to Congress and the ZIP is known."""
    if not (campaign.congress and zip_code):
        return []
    try:
        return congress.legislators_for_zip(zip_code)
    except (congress.InvalidZip, congress.UnknownZip, congress.CongressDataMissing):
        return []


def _offer(form: WriteForm, campaign: Campaign, zip_code: str | None) -> tuple[list[Target], list[LetterTemplate]]:
    """Targets and letters a supporter may choose: the campaign's own, plus their members of Congress."""
    templates = letter_templates(campaign)
    # A target no letter can reach is never offered (a call-only office is offered on the call page).
    targets = [t for t in campaign_targets(campaign) + _legislators(campaign, zip_code) if _reachable(t, templates)]
    form.targets.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    form.template.choices = [SelectChoice(template.slug, template.name) for template in templates]
    return targets, templates


def _reachable(target: Target, templates: list[LetterTemplate]) -> bool:
    return any(template.fits(target) and template.channels_for(target) for template in templates)


def _render_write(form: WriteForm, campaign: Campaign, targets, templates, status: int = 200):
    return (
        render_template(
            "letters/write.html",
            form=form,
            campaign=campaign,
            targets=targets,
            templates=templates,
            channel_names=CHANNEL_NAMES,
        ),
        status,
    )


NO_COMMON_CHANNEL = (
    "One letter can't reach everyone you chose the same way (some take email, others a web form or a printed "
    "letter). Choose fewer people for this letter; you can write to the others right after."
)

CHANNEL_NAMES = {
    SMTP: "email from your account",
    MAILTO: "your mail app",
    CONTACT_FORM: "their web form",
    PRINT: "a printed letter",
    CALL: "a phone call",
}


def _attach(form, errors: dict[str, list[str]]) -> None:
    """Put service errors next to the fields they are about ("supporter.email" → the email field)."""
    for key, messages in errors.items():
        name = key.removeprefix("supporter.")
        field = getattr(form, name, None) if name in (*SUPPORTER_FIELDS, "targets", "template") else None
        field = field or form.targets
        field.errors = [*field.errors, *messages]


@bp.route("/c/<slug>/write", methods=["GET", "POST"])
def write(slug: str):
    campaign = _campaign(slug)
    form = WriteForm()
    zip_code = request.args.get("zip") if request.method == "GET" else request.form.get("zip")
    targets, templates = _offer(form, campaign, zip_code)
    if request.method == "GET":
        offered = {target.id for target in targets}
        form.targets.data = [t for t in request.args.getlist("target") if t in offered]
        if not form.targets.data and len(targets) == 1:
            form.targets.data = [targets[0].id]
        if zip_code and not form.zip.data:
            form.zip.data = zip_code
        chosen = [target for target in targets if target.id in form.targets.data]
        fitting = [t for t in templates if chosen and all(t.fits(target) for target in chosen)]
        wanted = request.args.get("template")
        form.template.data = wanted if wanted in {t.slug for t in templates} else (fitting[0].slug if fitting else None)
        return _render_write(form, campaign, targets, templates)
    if not form.validate_on_submit():
        return _render_write(form, campaign, targets, templates, 422)
    try:
        template, chosen_targets = service.choose(
            campaign, form.template.data, form.targets.data, channel=None, zip_code=form.zip.data
        )
        if not _channels(template, chosen_targets):
            raise service.SubmissionInvalid({"targets": [NO_COMMON_CHANNEL]})
        supporter = service.Supporter(**form.supporter_fields())
        drafts = service.draft_letters(campaign, template, chosen_targets, supporter)
    except service.NotFound as exc:
        form.template.errors = [*form.template.errors, str(exc)]
        return _render_write(form, campaign, targets, templates, 422)
    except service.SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _render_write(form, campaign, targets, templates, 422)
    send_form = SendForm(
        formdata=None, data={**form.supporter_fields(), "targets": form.targets.data, "template": template.slug}
    )
    _offer(send_form, campaign, form.zip.data)
    for draft in drafts:
        send_form.letters.append_entry({"target": draft.target.id, "subject": draft.subject, "body": draft.body})
    return _render_preview(send_form, campaign, template, drafts)


def _channels(template: LetterTemplate, targets: list[Target]) -> list[str]:
    """Ways out that every chosen target can take with this letter."""
    return [c for c in SEND_CHANNELS if all(c in template.channels_for(target) for target in targets)]


def _render_preview(form: SendForm, campaign: Campaign, template: LetterTemplate, drafts, status: int = 200):
    by_target = {draft.target.id: draft for draft in drafts}
    shares = {}
    for entry in form.letters:
        draft = by_target.get(entry.form.target.data)
        if draft is not None:
            shares[draft.target.id] = draft.share(entry.form.body.data or "")
    targets = [draft.target for draft in drafts]
    channels = _channels(template, targets)
    detected = providers.detect(form.email.data or "", mx=current_app.config["MAIL_SETTINGS_MX_LOOKUP"])
    if not form.provider.data and detected.provider is not None:
        form.provider.data = detected.key  # settings found from the address; the supporter can still change them
    return (
        render_template(
            "letters/preview.html",
            form=form,
            campaign=campaign,
            template=template,
            drafts=by_target,
            shares=shares,
            describe_share=words.describe,
            channels=channels,
            blocked=[t for t in targets if t.no_email_reason] if not set(channels) & {SMTP, MAILTO} else [],
            providers=providers.PROVIDERS,
            detected=detected,
            oauth_clients=oauth_clients(),
        ),
        status,
    )


@bp.route("/c/<slug>/send", methods=["POST"])
def send(slug: str):
    campaign = _campaign(slug)
    form = SendForm()
    targets, templates = _offer(form, campaign, request.form.get("zip"))
    action = request.form.get("action")
    if action == "edit":
        back = WriteForm()
        _offer(back, campaign, request.form.get("zip"))
        return _render_write(back, campaign, targets, templates)
    if not form.validate_on_submit() or action not in (*SEND_CHANNELS, *SIGN_IN_ACTIONS):
        return _preview_or_write(form, campaign, targets, templates)
    try:
        template, chosen = service.choose(
            campaign,
            form.template.data,
            form.targets.data,
            channel=SMTP if action in SIGN_IN_ACTIONS else action,
            zip_code=form.zip.data,
        )
    except (service.NotFound, service.SubmissionInvalid) as exc:
        errors = exc.errors if isinstance(exc, service.SubmissionInvalid) else {"template": [str(exc)]}
        _attach(form, errors)
        return _preview_or_write(form, campaign, targets, templates)
    edits = {entry.form.target.data: (entry.form.subject.data, entry.form.body.data) for entry in form.letters}
    if set(edits) != {target.id for target in chosen}:
        form.targets.errors = [*form.targets.errors, "The letters don't match who you chose; please check them again."]
        return _preview_or_write(form, campaign, targets, templates)
    if action in SIGN_IN_ACTIONS:
        return _start_sign_in(action, campaign, form, targets, templates)
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
    return _submit(form, campaign, targets, templates, template, chosen, action, edits, account)


def _submit(form, campaign, targets, templates, template, chosen, action, edits, account):
    """Write the letters and queue them (the password's and the sign-in's path end here), or show why not."""
    try:
        submission = service.submit(
            campaign,
            template,
            chosen,
            service.Supporter(**form.supporter_fields()),
            action,
            edits=edits,
            account=account,
        )
    except service.SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.smtp_password.errors = [
            *form.smtp_password.errors,
            "We couldn't store your password safely just now. Please try again in a minute.",
        ]
        return _preview_or_write(form, campaign, targets, templates, 503)
    except limits.RateLimited as exc:
        form.targets.errors = [*form.targets.errors, exc.description]
        page, status = _preview_or_write(form, campaign, targets, templates, 429)
        return page, status, {"Retry-After": str(exc.retry_after_seconds)}
    return redirect(url_for("letters.status", submission_id=submission.id), 303)


# "Send with Google / Microsoft": the send form's buttons, named after the provider.
SIGN_IN_ACTIONS = (GOOGLE, MICROSOFT)
_SIGN_IN_SESSION = "mail_sign_in"  # the browser's own sign-in: a callback is finished only where it started


def _start_sign_in(provider: str, campaign: Campaign, form: SendForm, targets, templates):
    """Keep what the supporter wrote (encrypted, for OAUTH_SIGN_IN_TTL seconds) and send them to the provider."""
    fields = {key: values for key, values in request.form.lists() if key not in ("csrf_token", "smtp_password")}
    try:
        sign_in, url = mailauth.start(
            provider,
            redirect_uri=url_for("letters.signed_in", provider=provider, _external=True),
            login_hint=form.email.data or "",
            purpose={"send": {"slug": campaign.slug, "form": fields}},
        )
    except mailauth.SignInFailed as exc:
        form.provider.errors = [*form.provider.errors, exc.reason]
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.provider.errors = [
            *form.provider.errors,
            "We couldn't start signing in just now. Please try again in a minute.",
        ]
        return _preview_or_write(form, campaign, targets, templates, 503)
    session[_SIGN_IN_SESSION] = sign_in.id
    return redirect(url, 303)


@bp.route("/mail/signed-in/<provider>")
def signed_in(provider: str):
    """Where Google or Microsoft sends the supporter back: finish the sign-in, then do what it was for."""
    sign_in_id = session.pop(_SIGN_IN_SESSION, None)
    sign_in = mailauth.take(sign_in_id) if sign_in_id else None
    if sign_in is None or sign_in.provider != provider:
        return render_template("letters/sign_in_failed.html", reason=mailauth.EXPIRED), 400
    try:
        account = mailauth.finish(sign_in, request.args.to_dict())
    except mailauth.SignInFailed as exc:
        return _sign_in_failed(sign_in, exc.reason)
    if "retry" in sign_in.purpose:
        return _retry_with(sign_in.purpose["retry"], account)
    return _send_signed_in(sign_in.purpose["send"], account)


def _restored(stash: dict):
    """The send form as the supporter left it for the provider, with its campaign and offer."""
    campaign = find_campaign(stash.get("slug", ""), page=False)
    if campaign is None:
        abort(404)
    form = SendForm(formdata=MultiDict([(key, value) for key, values in stash["form"].items() for value in values]),
                    meta={"csrf": False})  # fmt: skip
    targets, templates = _offer(form, campaign, form.zip.data)
    return campaign, form, targets, templates


def _sign_in_failed(sign_in: mailauth.SignIn, reason: str):
    if "retry" in sign_in.purpose:
        return _status_page(sign_in.purpose["retry"], retry_error=reason, status=422)
    campaign, form, targets, templates = _restored(sign_in.purpose["send"])
    form.validate()
    form.provider.errors = [*form.provider.errors, reason]
    return _preview_or_write(form, campaign, targets, templates)


def _send_signed_in(stash: dict, account):
    campaign, form, targets, templates = _restored(stash)
    if not form.validate():
        return _preview_or_write(form, campaign, targets, templates)
    if account.email.lower() != (form.email.data or "").lower():
        form.provider.errors = [
            *form.provider.errors,
            f"You signed in as {account.email}, but your letter is from {form.email.data}. Sign in with "
            f"{form.email.data}, or go back and change your email address to {account.email}.",
        ]
        return _preview_or_write(form, campaign, targets, templates)
    try:
        template, chosen = service.choose(
            campaign, form.template.data, form.targets.data, channel=SMTP, zip_code=form.zip.data
        )
    except (service.NotFound, service.SubmissionInvalid) as exc:
        _attach(form, exc.errors if isinstance(exc, service.SubmissionInvalid) else {"template": [str(exc)]})
        return _preview_or_write(form, campaign, targets, templates)
    edits = {entry.form.target.data: (entry.form.subject.data, entry.form.body.data) for entry in form.letters}
    return _submit(form, campaign, targets, templates, template, chosen, SMTP, edits, account)


@bp.route("/s/<submission_id>/retry", methods=["POST"])
def retry(submission_id: str):
    """Send the failed letters again: the password typed again, or a new sign-in."""
    submission = service.find_submission(submission_id)
    if submission is None:
        abort(404)
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    provider = request.form.get("action")
    if provider in SIGN_IN_ACTIONS:
        try:
            sign_in, url = mailauth.start(
                provider,
                redirect_uri=url_for("letters.signed_in", provider=provider, _external=True),
                login_hint=submission.supporter_email,
                purpose={"retry": submission.id},
            )
        except (mailauth.SignInFailed, RedisError) as exc:
            reason = exc.reason if isinstance(exc, mailauth.SignInFailed) else "We couldn't start signing in just now."
            return _status_page(submission.id, retry_error=reason, status=422)
        session[_SIGN_IN_SESSION] = sign_in.id
        return redirect(url, 303)
    account = form.smtp_account(submission)
    if account is None:
        return _status_page(submission.id, retry_form=form, status=422)
    try:
        service.check_smtp_host(account.host, account.port)
    except RefusedHost as exc:
        return _status_page(submission.id, retry_error=str(exc), status=422)
    return _retry_with(submission.id, account)


def _retry_with(submission_id: str, account):
    submission = service.find_submission(submission_id)
    if submission is None:
        abort(404)
    try:
        service.retry(submission, account)
    except service.SubmissionInvalid as exc:
        return _status_page(submission_id, retry_error=" ".join(exc.errors.get("retry", [])), status=422)
    except RedisError:
        return _status_page(
            submission_id,
            retry_error="We couldn't keep your sign-in safely just now. Please try again in a minute.",
            status=503,
        )
    return redirect(url_for("letters.status", submission_id=submission_id), 303)


def _preview_or_write(form: SendForm, campaign: Campaign, targets, templates, status: int = 422):
    """Show the preview again with the errors and everything typed (the password excepted)."""
    form.smtp_password.data = ""
    template = next((t for t in templates if t.slug == form.template.data), None)
    chosen = [t for t in targets if t.id in (form.targets.data or [])]
    if template is None or not chosen:
        return _render_write(form, campaign, targets, templates, status)
    fields = {name: getattr(form, name).data or "" for name in SUPPORTER_FIELDS}
    if any(getattr(form, name).errors for name in SUPPORTER_FIELDS):
        fields.update(address="", note="")  # draft with what is surely usable; the errors are shown
    try:
        drafts = service.draft_letters(campaign, template, chosen, service.Supporter(**fields))
    except service.SubmissionInvalid:
        return _render_write(form, campaign, targets, templates, status)
    return _render_preview(form, campaign, template, drafts, status)


@bp.route("/c/<slug>/call", methods=["GET", "POST"])
def call(slug: str):
    """A phone call: name and ZIP are all the script needs; the call is counted, the outcome is the supporter's to tell."""
    campaign = _campaign(slug)
    form = CallForm()
    zip_code = request.values.get("zip")
    targets = [t for t in campaign_targets(campaign) + _legislators(campaign, zip_code) if CALL in t.channels]
    scripts = call_scripts(campaign)
    form.target.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    if request.method == "GET":
        form.target.data = request.args.get("target")
        form.zip.data = form.zip.data or zip_code
    elif form.validate_on_submit():
        target = next(t for t in targets if t.id == form.target.data)
        script = next((s for s in scripts if s.fits(target)), None)
        if script is None:
            form.target.errors = [*form.target.errors, f"This campaign has no call script for {target.name} yet."]
        else:
            try:
                template, chosen = service.choose(campaign, script.slug, [target.id], CALL, form.zip.data)
                supporter = service.Supporter(name=form.name.data, email="", zip=form.zip.data)
                submission = service.submit(campaign, template, chosen, supporter, CALL)
            except (service.NotFound, service.SubmissionInvalid) as exc:
                _attach_call(form, exc)
            except limits.RateLimited as exc:
                form.target.errors = [*form.target.errors, exc.description]
                page = render_template("letters/call.html", form=form, campaign=campaign, targets=targets)
                return page, 429, {"Retry-After": str(exc.retry_after_seconds)}
            else:
                return redirect(url_for("letters.status", submission_id=submission.id), 303)
    return render_template(
        "letters/call.html", form=form, campaign=campaign, targets=targets
    ), 200 if request.method == "GET" else 422


def _attach_call(form: CallForm, exc: Exception) -> None:
    errors = exc.errors if isinstance(exc, service.SubmissionInvalid) else {"target": [str(exc)]}
    for key, messages in errors.items():
        field = {"supporter.name": form.name, "supporter.zip": form.zip}.get(key, form.target)
        field.errors = [*field.errors, *messages]


@bp.route("/s/<submission_id>")
def status(submission_id: str):
    return _status_page(submission_id)


def _status_page(submission_id: str, *, retry_error: str | None = None, retry_form=None, status: int = 200):
    submission = service.find_submission(submission_id)
    if submission is None:
        abort(404)
    view = service.submission_view(submission)
    failed = service.retryable(submission)
    provider = service.signed_in_with(submission)
    return render_template(
        "letters/status.html",
        submission=submission,
        view=view,
        confirm_form=ConfirmForm(),
        forget_form=ForgetForm(),
        outcome_labels=OUTCOME_LABELS,
        retry_failed=failed,
        retry_provider=provider,
        retry_client=oauth_clients().get(provider) if provider else None,
        retry_form=retry_form
        or RetryForm(
            formdata=None, data={"smtp_username": submission.supporter_email, "smtp_port": submission.smtp_port or 587}
        ),  # fmt: skip
        retry_error=retry_error,
    ), status


@bp.route("/s/<submission_id>/forget", methods=["POST"])
def forget(submission_id: str):
    """Erase this submission's personal data now; the counts stay."""
    if not ForgetForm().validate_on_submit():
        abort(400)
    if not privacy.forget_submission(submission_id):
        abort(404)
    return redirect(url_for("letters.status", submission_id=submission_id), 303)


OUTCOME_LABELS = {
    (MAILTO, "sent"): "I sent it",
    (CONTACT_FORM, "sent"): "I sent it through the form",
    (PRINT, "sent"): "I mailed it",
    (CALL, "called"): "I called and spoke to someone",
    (CALL, "voicemail"): "No answer / I left a voicemail",
}


@bp.route("/l/<letter_id>/confirm", methods=["POST"])
def confirm(letter_id: str):
    letter = service.find_letter(letter_id)
    if letter is None:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.confirm(letter, form.outcome.data)
        except service.SubmissionInvalid:
            abort(422)
    else:
        abort(400)
    return redirect(url_for("letters.status", submission_id=letter.submission_id, _anchor=f"letter-{letter.id}"), 303)


@bp.route("/l/<letter_id>/print")
def print_letter(letter_id: str):
    """A print-ready letter: the supporter's address block, the date, the office's address, the letter."""
    letter = service.find_letter(letter_id)
    if letter is None or letter.channel != PRINT:
        abort(404)
    target = letter.target
    offices = (
        [office for office in congress.district_offices(target.id) if office.postal_address]
        if target.is_legislator
        else []
    )
    chosen = next((office for office in offices if office.id == request.args.get("office")), None)
    return render_template(
        "letters/print.html",
        letter=letter,
        submission=letter.submission,
        target=target,
        offices=offices,
        chosen=chosen,
        recipient_block=_recipient_block(target, chosen),
        today=dt.date.today(),
    )


def _recipient_block(target: Target, office: congress.Office | None) -> str:
    """The address block of a printed letter: a district office, the DC office, or the target's address."""
    if not target.is_legislator:
        return target.postal_address or target.name
    lines = [f"The Honorable {target.name}"]
    if office is not None:
        lines.append(office.postal_address or "")
    else:
        lines.append("United States Senate" if target.kind == "senator" else "United States House of Representatives")
        lines.append(target.postal_address or "")
    return "\n".join(line for line in lines if line)
