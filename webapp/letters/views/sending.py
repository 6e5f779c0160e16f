"""The send step: own email (a password or a sign-in with Google or Microsoft), the mail links, a web form, print or
Congress's system; testing mail settings, sending failed letters again."""

from __future__ import annotations

import hmac

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from werkzeug.datastructures import MultiDict

from webapp import i18n
from webapp.campaigns.service import find_campaign
from webapp.core.rendering import RendererUnavailable
from webapp.cwc import address as cwc_address
from webapp.delivery import check
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.ssrf import RefusedHost
from webapp.extensions import db
from webapp.i18n import gettext, ngettext, reasons
from webapp.letters import choosing, drafting, mail_account, reporting, service
from webapp.letters import visit as visits
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.letters.forms import RetryForm, SendForm, WriteForm
from webapp.letters.views import bp
from webapp.letters.views.status import DELAYED, status_page
from webapp.letters.views.writing import (
    SEND_CHANNELS,
    SUPPORTER_FIELDS,
    attach,
    draft_with_reader,
    edited_letters,
    letter_language,
    offer,
    open_campaign,
    render_preview,
    render_write,
    renderer_unavailable,
    try_again_later,
)
from webapp.mailauth import service as mailauth
from webapp.mailauth.providers import GOOGLE, MICROSOFT
from webapp.models import CWC, SMTP, Campaign
from webapp.security import bodies, headers, limits


def _keep(visit: visits.Visit, form: SendForm, campaign: Campaign) -> str | None:
    """Put what the preview holds (the edits, the details typed there) back into the draft; its id, or None."""
    draft_id = form.draft.data or None
    draft = visit.draft(draft_id) or {}
    draft = {
        **draft,
        "campaign": campaign.slug,
        "template": form.template.data,
        "targets": list(form.targets.data or []),
        "zip": form.zip.data or "",
        "note": form.note.data or "",
        "letters": edited_letters(form),
        # The address typed for Congress's system (CWC), kept with the draft like the edits.
        "postal": {
            name: getattr(form, f"postal_{name}").data
            for name in cwc_address.FIELDS
            if getattr(form, f"postal_{name}").data
        },
    }
    if not form.address.errors and form.address.data:
        visit.remember_details(address=form.address.data)
    draft_id = visit.save_draft(draft, draft_id)
    form.draft.data = draft_id
    return draft_id if visits.save(visit) else None


@bp.route("/c/<slug>/send", methods=["POST"])
@bodies.takes_a_letter
def send(slug: str):
    campaign = open_campaign(slug)
    visit = visits.current()
    form = SendForm()
    targets, templates = offer(form, campaign, request.form.get("zip"))
    action = request.form.get("action") or ""
    if action.startswith(LANGUAGE_ACTION):
        return _switch_language(visit, form, campaign, targets, templates, action.removeprefix(LANGUAGE_ACTION))
    if action == "edit":
        draft_id = _keep(visit, form, campaign)
        if draft_id:
            return redirect(url_for("letters.write", slug=slug, draft=draft_id), 303)
        back = WriteForm()
        offer(back, campaign, request.form.get("zip"))
        return render_write(back, campaign, targets, templates)
    if action == TEST_SETTINGS:
        return _test_settings(form, campaign, targets, templates)
    if not form.validate_on_submit() or action not in (*SEND_CHANNELS, *SIGN_IN_ACTIONS):
        return _preview_or_write(form, campaign, targets, templates)
    if action in SIGN_IN_ACTIONS:  # what can be checked before the supporter leaves for their provider
        try:
            choosing.choose(campaign, form.template.data, form.targets.data, channel=SMTP, zip_code=form.zip.data)
        except (NotFound, SubmissionInvalid) as exc:
            attach(form, exc.errors if isinstance(exc, SubmissionInvalid) else {"template": [str(exc)]})
            return _preview_or_write(form, campaign, targets, templates)
        if not _letters_match(form):
            return _preview_or_write(form, campaign, targets, templates)
        _keep(visit, form, campaign)  # the edits wait in the visit too, should the sign-in be abandoned
        return _start_sign_in(action, campaign, form, targets, templates)
    account = postal = None
    if action == CWC:
        postal = form.postal()
        if postal is None:
            return _preview_or_write(form, campaign, targets, templates)
    if action == SMTP:
        account = form.smtp_account()
        if account is None:
            return _preview_or_write(form, campaign, targets, templates)
    return _submit(form, campaign, targets, templates, action, account, postal)


def _letters_match(form: SendForm) -> bool:
    """Whether the preview's letters are one for each person chosen (the ids `choose` returns, or it refuses);
    if not, the error goes on the choice."""
    if {entry.form.target.data for entry in form.letters} == set(form.targets.data or []):
        return True
    form.targets.errors = [
        *form.targets.errors,
        gettext("The letters don't match who you chose; please check them again."),
    ]
    return False


LANGUAGE_ACTION = "language-"


def _switch_language(visit, form: SendForm, campaign: Campaign, targets, templates, language: str):
    """The supporter chose another language for the letters: edits made in the one they leave are kept for it, and
    the letters are drafted again in the new one (or as they were left in it)."""
    draft_id = _keep(visit, form, campaign)
    draft = visit.draft(draft_id) if draft_id else None
    template = next((t for t in templates if t.slug == form.template.data), None)
    if draft is None or template is None or language not in template.languages:
        return _preview_or_write(form, campaign, targets, templates)
    edits = dict(draft.get("edits") or {})
    edits[draft.get("language") or template.language or "en"] = draft.get("letters") or {}
    draft.update(language=language, letters=edits.pop(language, {}), edits=edits)
    visit.save_draft(draft, draft_id)
    visits.save(visit)
    return redirect(url_for("letters.preview", slug=campaign.slug, draft_id=draft_id), 303)


def _submit(form, campaign, targets, templates, action, account, postal=None):
    """Write the letters and queue them (the password's and the sign-in's path end here), or show why not; the
    visit remembers what was done and the details, never the password."""
    visit = visits.current()
    if not _letters_match(form):
        return _preview_or_write(form, campaign, targets, templates)
    draft_id = form.draft.data or None
    try:  # one send per draft: a double tap, or the same preview sent from another tab, lands on the same status
        sent_before = visits.claim_draft(visit, draft_id)
    except visits.StillSending:
        return redirect(url_for("letters.receipt", slug=campaign.slug), 303)
    if sent_before:
        return redirect(url_for("letters.status", submission_id=sent_before), 303)
    submission = None
    try:
        submission, answer = _send_claimed(visit, form, campaign, targets, templates, action, account, postal)
    finally:  # refused (or crashed): the draft is free to be put right and sent
        visits.settle_draft(visit, draft_id, submission.id if submission is not None else None)
    return answer


def _send_claimed(visit: visits.Visit, form, campaign, targets, templates, action, account, postal):
    """The letters written and queued, and the redirect to their status; or (None, the page saying why not)."""
    slug = campaign.slug
    # A letter the supporter never changed is written again from the template, so details they added on the way
    # (a postal address for printing) reach it; a changed one is sent exactly as they left it.
    edits = {target_id: (letter["subject"], letter["body"]) for target_id, letter in edited_letters(form).items()}
    order = service.Order(
        form.template.data,
        tuple(form.targets.data),
        action,
        drafting.Supporter(**form.supporter_fields()),
        edits=edits,
        account=account,
        postal=postal,
        language=request.form.get("language") or (visit.draft(form.draft.data) or {}).get("language"),
        reader=i18n.current(),
    )
    try:
        submission = service.send(campaign, order)
    except (NotFound, SubmissionInvalid) as exc:
        attach(form, exc.errors if isinstance(exc, SubmissionInvalid) else {"template": [str(exc)]})
        return None, _preview_or_write(form, campaign, targets, templates)
    except RefusedHost as exc:
        field = form.server_field()
        field.errors = [*field.errors, reasons.translate(str(exc))]
        return None, _preview_or_write(form, campaign, targets, templates)
    except RendererUnavailable as exc:
        renderer_unavailable(form)
        return None, try_again_later(_preview_or_write(form, campaign, targets, templates), exc)
    except RedisError:  # the credentials Redis (CREDENTIALS_REDIS_URL): ours, not the supporter's password
        form.provider.errors = [*form.provider.errors, mail_account.unavailable()]
        return None, _preview_or_write(form, campaign, targets, templates, 503)
    except limits.RateLimited as exc:
        field = form.server_field(getattr(exc, "field", "targets"))  # a paused mail server or account: its field
        field.errors = [*field.errors, exc.description]
        page, status = _preview_or_write(form, campaign, targets, templates, 429)
        return None, (page, status, {"Retry-After": str(exc.retry_after_seconds)})
    db.session.commit()
    if not service.queue(submission):  # the broker is out of reach: the sweeper sends them, a few minutes late
        flash(
            ngettext(
                "Your letter is saved and will go out within a few minutes: our mail queue was out of reach for a "
                "moment. There's no need to send it again.",
                "Your letters are saved and will go out within a few minutes: our mail queue was out of reach for "
                "a moment. There's no need to send them again.",
                len(submission.letters),
            ),
            DELAYED,
        )
    visit.record(slug, submission.id)
    visit.drop_draft(form.draft.data)
    visit.remember_details(**{k: v for k, v in form.supporter_fields().items() if k != "note"})
    if action == SMTP and isinstance(account, SmtpAccount):  # a server and user name; never a sign-in
        visit.remember_smtp({name: getattr(form, name).data for name in visits.SMTP_FIELDS})
    visits.save(visit)
    return submission, redirect(url_for("letters.status", submission_id=submission.id), 303)


@bp.after_request
def _consent_pages_in_form_action(response):
    """The send step's and the status page's forms may answer with a redirect to a provider's consent page, which
    the browser checks against the page's `form-action`: those origins are added for this blueprint's pages."""
    origins = mailauth.consent_origins()
    if origins and response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", headers.content_security_policy(form_action=origins))
    return response


# "Test my settings": the password section's second button. The same endpoint as sending, so the same limits.
TEST_SETTINGS = "test"


SMTP_FIELDS = ("provider", "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password")


def _test_settings(form: SendForm, campaign: Campaign, targets, templates):
    """Sign in to the supporter's mail server and hang up; answer in plain words (JSON for the page's script,
    which keeps the password typed; otherwise the page again, the password to be typed again to send)."""
    account = form.smtp_account()
    ok, message = False, ""
    if account is not None:
        try:
            message, ok = check.check_settings(account), True
        except check.CheckFailed as exc:
            message = exc.reason
            if exc.kind == "no_passwords" and MICROSOFT in mailauth.clients():
                message = " ".join((message, gettext("Use “Send with Microsoft” on this page instead.")))
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        errors = {name: form[name].errors for name in SMTP_FIELDS if form[name].errors}
        if account is None:
            message = " ".join(error for field_errors in errors.values() for error in field_errors)
        return {"ok": ok, "message": message, "errors": errors}, 200 if ok else 422
    return _preview_or_write(
        form, campaign, targets, templates, 200 if ok else 422, settings_check={"ok": ok, "message": message}
    )


# "Send with Google / Microsoft": the send form's buttons, named after the provider.
SIGN_IN_ACTIONS = (GOOGLE, MICROSOFT)


_SIGN_IN_SESSION = "mail_sign_in"  # the browser's own sign-in: a callback is finished only where it started


def _start_sign_in(provider: str, campaign: Campaign, form: SendForm, targets, templates):
    """Keep what the supporter wrote (encrypted, for OAUTH_SIGN_IN_TTL seconds) and send them to the provider."""
    fields = {key: values for key, values in request.form.lists() if key not in ("csrf_token", "smtp_password")}
    draft_id = form.draft.data
    back = (
        url_for("letters.preview", slug=campaign.slug, draft_id=draft_id)
        if draft_id
        else url_for("letters.write", slug=campaign.slug)
    )
    try:
        url = _begin_sign_in(
            provider, form.email.data or "", {"send": {"slug": campaign.slug, "form": fields}}, back=back
        )
    except mailauth.SignInFailed as exc:
        form.provider.errors = [*form.provider.errors, exc.translated()]
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.provider.errors = [*form.provider.errors, mail_account.unavailable()]
        return _preview_or_write(form, campaign, targets, templates, 503)
    return redirect(url, 303)


# The browser's own sign-in, {"id", "back"}: a callback is finished only where it started, and `back` is where its
# letter waits (the preview, or the status page of the letters sent again), for a sign-in that expired meanwhile.
_SIGN_IN_SESSION = "mail_sign_in"
# The last callback this browser finished, {"state", "to", "back"}: reloading it (a phone reloads the page, back and
# forward) leads to the same status page again, and nothing is sent twice.
_SIGNED_IN_SESSION = "mail_signed_in"


def _begin_sign_in(provider: str, login_hint: str, purpose: dict, *, back: str) -> str:
    """Start a sign-in for this browser (replacing one it left waiting) and return the provider's consent address."""
    waiting = session.get(_SIGN_IN_SESSION)
    sign_in, url = mailauth.start(
        provider,
        redirect_uri=url_for("letters.signed_in", provider=provider, _external=True),
        login_hint=login_hint,
        purpose=purpose,
        owner=visits.current().id,
        replaces=waiting.get("id") if isinstance(waiting, dict) else None,
    )
    session[_SIGN_IN_SESSION] = {"id": sign_in.id, "back": back}
    return url


@bp.route("/mail/signed-in/<provider>")
def signed_in(provider: str):
    """Where Google or Microsoft sends the supporter back: finish the sign-in, then do what it was for."""
    waiting = session.pop(_SIGN_IN_SESSION, None)
    waiting = waiting if isinstance(waiting, dict) else {}
    state = request.args.get("state", "")
    finished = session.get(_SIGNED_IN_SESSION)
    if not waiting and isinstance(finished, dict) and state and hmac.compare_digest(str(finished["state"]), state):
        if finished.get("to"):  # this callback again: where it led the first time
            return redirect(finished["to"], 303)
        waiting = {"back": finished.get("back")}
    back = waiting.get("back")
    try:
        sign_in = mailauth.take(waiting["id"]) if waiting.get("id") else None
    except RedisError:
        if waiting.get("id"):  # still waiting, should the supporter come back here once the store is back
            session[_SIGN_IN_SESSION] = waiting
        return render_template("letters/sign_in_failed.html", reason=mail_account.unavailable(), back=back), 503
    if sign_in is None or sign_in.provider != provider:
        return render_template("letters/sign_in_failed.html", reason=gettext(mailauth.EXPIRED), back=back), 400
    try:
        account = mailauth.finish(sign_in, request.args.to_dict())
    except mailauth.SignInFailed as exc:
        answer = _sign_in_failed(sign_in, exc.translated())
    else:
        if "retry" in sign_in.purpose:
            answer = _retry_with(sign_in.purpose["retry"], account)
        else:
            answer = _send_signed_in(sign_in.purpose["send"], account)
    location = answer.headers.get("Location") if isinstance(answer, Response) and answer.status_code == 303 else None
    session[_SIGNED_IN_SESSION] = {"state": sign_in.state, "to": location, "back": waiting.get("back")}
    return answer


def _restored(stash: dict):
    """The send form as the supporter left it for the provider, with its campaign and offer."""
    campaign = find_campaign(stash.get("slug", ""), page=False)
    if campaign is None:
        abort(404)
    form = SendForm(formdata=MultiDict([(key, value) for key, values in stash["form"].items() for value in values]),
                    meta={"csrf": False})  # fmt: skip
    targets, templates = offer(form, campaign, form.zip.data)
    return campaign, form, targets, templates


def _sign_in_failed(sign_in: mailauth.SignIn, reason: str):
    if "retry" in sign_in.purpose:
        return status_page(sign_in.purpose["retry"], retry_error=reason, status=422)
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
            gettext(
                "You signed in as %(account)s, but your letter is from %(sender)s. Sign in with %(sender)s, or go "
                "back and change your email address to %(account)s.",
                account=account.email,
                sender=form.email.data,
            ),
        ]
        return _preview_or_write(form, campaign, targets, templates)
    return _submit(form, campaign, targets, templates, SMTP, account)


@bp.route("/s/<submission_id>/retry", methods=["POST"])
def retry(submission_id: str):
    """Send the failed letters again: the password typed again, or a new sign-in."""
    submission = reporting.find_submission(submission_id)
    if submission is None:
        abort(404)
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    provider = request.form.get("action")
    if provider in SIGN_IN_ACTIONS:
        try:
            url = _begin_sign_in(
                provider,
                submission.supporter_email,
                {"retry": submission.id},
                back=url_for("letters.status", submission_id=submission.id),
            )
        except mailauth.SignInFailed as exc:
            return status_page(submission.id, retry_error=exc.translated(), status=422)
        except RedisError:
            return status_page(submission.id, retry_error=mail_account.unavailable(), status=503)
        return redirect(url, 303)
    account = form.smtp_account(submission)
    if account is None:
        return status_page(submission.id, retry_form=form, status=422)
    return _retry_with(submission.id, account)


def _retry_with(submission_id: str, account):
    submission = reporting.find_submission(submission_id)
    if submission is None:
        abort(404)
    try:
        service.retry(submission, account)
        db.session.commit()
    except SubmissionInvalid as exc:
        return status_page(submission_id, retry_error=" ".join(exc.errors.get("retry", [])), status=422)
    except RefusedHost as exc:
        return status_page(submission_id, retry_error=reasons.translate(str(exc)), status=422)
    except limits.RateLimited as exc:
        page, status = status_page(submission_id, retry_error=exc.description, status=429)
        return page, status, {"Retry-After": str(exc.retry_after_seconds)}
    except RedisError:
        return status_page(submission_id, retry_error=mail_account.unavailable(), status=503)
    service.queue(submission)
    return redirect(url_for("letters.status", submission_id=submission_id), 303)


def _preview_or_write(
    form: SendForm, campaign: Campaign, targets, templates, status: int = 422, *, settings_check: dict | None = None
):
    """Show the preview again with the errors and everything typed (the password excepted), and keep the edits in the
    visit, so going back, reloading or switching to another way of sending loses nothing."""
    form.smtp_password.data = ""
    template = next((t for t in templates if t.slug == form.template.data), None)
    chosen = [t for t in targets if t.id in (form.targets.data or [])]
    if template is None or not chosen:
        return render_write(form, campaign, targets, templates, status)
    _keep(visits.current(), form, campaign)
    fields = {name: getattr(form, name).data or "" for name in SUPPORTER_FIELDS}
    if any(getattr(form, name).errors for name in SUPPORTER_FIELDS):
        fields.update(address="", note="")  # draft with what is surely usable; the errors are shown
    language = letter_language(template, chosen, request.form.get("language"))
    try:
        drafts, readable = draft_with_reader(campaign, template, chosen, drafting.Supporter(**fields), language)
    except SubmissionInvalid:
        return render_write(form, campaign, targets, templates, status)
    except RendererUnavailable:  # the letters as the supporter sent them back, undrafted
        renderer_unavailable(form)
        return render_preview(form, campaign, template, [], {}, status, language=language, chosen=chosen)
    kept = {entry.form.target.data for entry in form.letters if not entry.form.drafted.data}
    return render_preview(
        form, campaign, template, drafts, readable, status, kept=kept, language=language, settings_check=settings_check
    )
