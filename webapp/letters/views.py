"""The supporter's pages: write, preview and edit, send or hand off, call office after office, print, watch the
letters' status, and the receipt of everything done in the visit."""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from webapp import i18n
from webapp.campaigns.service import call_scripts, campaign_targets, find_campaign, letter_templates
from webapp.congress import service as congress
from webapp.cwc import address as cwc_address
from webapp.delivery import check
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.ssrf import RefusedHost
from webapp.extensions import db
from webapp.i18n import gettext, reasons
from webapp.i18n import lazy_gettext as _l
from webapp.letters import actions, choosing, drafting, mail_account, reporting, service, words
from webapp.letters import visit as visits
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.letters.forms import (
    CallForm,
    CallOutcomeForm,
    ConfirmForm,
    ForgetForm,
    RetryForm,
    SendForm,
    VisitForm,
    WriteForm,
    error_items,
)
from webapp.letters.handoff import tel_uri
from webapp.mailauth import providers
from webapp.mailauth import service as mailauth
from webapp.mailauth.providers import GOOGLE, MICROSOFT
from webapp.mailauth.service import clients as oauth_clients
from webapp.models import CALL, CONTACT_FORM, CWC, MAILTO, PRINT, SMTP, Campaign, LetterTemplate, Target
from webapp.privacy import service as privacy
from webapp.security import headers, limits

bp = Blueprint("letters", __name__)
bp.add_app_template_filter(tel_uri, "tel")
bp.add_app_template_global(error_items, "error_items")

# How a written letter can leave, in the order the preview page offers them.
SEND_CHANNELS = (CWC, SMTP, MAILTO, CONTACT_FORM, PRINT)
SUPPORTER_FIELDS = ("name", "email", "zip", "address", "note")

NO_COMMON_CHANNEL = _l(
    "One letter can't reach everyone you chose the same way (some take email, others a web form or a printed "
    "letter). Choose fewer people for this letter; you can write to the others right after."
)

CHANNEL_NAMES = {
    SMTP: _l("email from your account"),
    MAILTO: _l("your mail app"),
    CONTACT_FORM: _l("their web form"),
    PRINT: _l("a printed letter"),
    CALL: _l("a phone call"),
    CWC: _l("delivery to their office"),
}


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


def _reachable(target: Target, templates: list[LetterTemplate]) -> bool:
    return any(template.fits(target) and template.channels_for(target) for template in templates)


def _offer(
    form: WriteForm, campaign: Campaign, zip_code: str | None, offered_zip: str | None = None
) -> tuple[list[Target], list[LetterTemplate]]:
    """Targets and letters a supporter may choose: the campaign's own, plus their members of Congress.

    On a POST, the members offered with the page (`offered_zip`) stay choices even if the ZIP was changed, so
    the answer is "they don't represent that ZIP" (or "enter your ZIP") rather than "not a valid choice"."""
    templates = letter_templates(campaign)
    members = _legislators(campaign, zip_code)
    if offered_zip and offered_zip != zip_code:
        members += [t for t in _legislators(campaign, offered_zip) if t.id not in {m.id for m in members}]
    # A target no letter can reach is never offered (a call-only office is offered on the call page).
    targets = [t for t in campaign_targets(campaign) + members if _reachable(t, templates)]
    # A letter none of them can take (Congress's before a ZIP code) is not offered "For" nobody.
    templates = [template for template in templates if any(_reachable(t, [template]) for t in targets)]
    form.targets.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    form.template.choices = [SelectChoice(template.slug, template.name) for template in templates]
    form.legislator_ids = frozenset(target.id for target in targets if target.is_legislator)
    return targets, templates


def _render_write(form: WriteForm, campaign: Campaign, targets, templates, status: int = 200, notice: str = ""):
    visit = visits.current()
    return (
        render_template(
            "letters/write.html",
            form=form,
            campaign=campaign,
            targets=targets,
            templates=templates,
            channel_names=CHANNEL_NAMES,
            asks_zip=bool(form.legislator_ids),
            offered_zip=request.form.get("offered_zip") or request.form.get("zip") or form.zip.data,
            known=bool(visit.details.get("name") and visit.details.get("email")),
            notice=notice,
            problems=error_items(form),
            visit_form=VisitForm(),
        ),
        status,
    )


def _attach(form, errors: dict[str, list[str]]) -> None:
    """Put service errors next to the fields they are about ("supporter.email" → the email field)."""
    for key, messages in errors.items():
        if key == "postal" or key.startswith("postal."):  # the address a letter to Congress through CWC carries
            form.attach_postal_errors({key: messages})
            continue
        name = key.removeprefix("supporter.")
        field = getattr(form, name, None) if name in (*SUPPORTER_FIELDS, "targets", "template") else None
        field = field or form.targets
        field.errors = [*field.errors, *messages]


def _fill_details(form, details: dict[str, str]) -> None:
    """What the supporter already told us in this visit, into the fields they have not filled."""
    for name, value in details.items():
        field = getattr(form, name, None)
        if field is not None and not field.data and value:
            field.data = value


def _fingerprint(subject: str, body: str) -> str:
    """The text as the form will send it back (browsers send CRLF; the field rules strip), hashed."""

    def plain(text: str) -> str:
        return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()

    return hashlib.sha256(f"{plain(subject)}\0{plain(body)}".encode()).hexdigest()[:32]


def _edited_letters(form: SendForm) -> dict[str, dict[str, str]]:
    """Letters the supporter changed (now or on an earlier page), by target id, to keep across every step."""
    kept = {}
    for entry in form.letters:
        letter = entry.form
        if not letter.drafted.data or _fingerprint(letter.subject.data, letter.body.data) != letter.drafted.data:
            kept[letter.target.data] = {"subject": letter.subject.data or "", "body": letter.body.data or ""}
    return kept


# ---- write ---------------------------------------------------------------------------------------------------


@bp.route("/c/<slug>/write", methods=["GET", "POST"])
def write(slug: str):
    campaign = _campaign(slug)
    visit = visits.current()
    form = WriteForm()
    if request.method == "GET":
        draft = visit.draft(request.args.get("draft"))
        if draft and draft.get("campaign") != slug:
            draft = None
        zip_code = request.args.get("zip") or (draft or {}).get("zip") or visit.details.get("zip")
    else:
        zip_code = request.form.get("zip")
    targets, templates = _offer(form, campaign, zip_code, request.form.get("offered_zip"))
    if request.method == "GET":
        offered = {target.id for target in targets}
        wanted = draft["targets"] if draft else request.args.getlist("target")
        form.targets.data = [t for t in wanted if t in offered]
        if not form.targets.data and len(targets) == 1:
            form.targets.data = [targets[0].id]
        chosen = [target for target in targets if target.id in form.targets.data]
        fitting = [t for t in templates if chosen and all(t.fits(target) for target in chosen)]
        wanted_template = draft["template"] if draft else request.args.get("template")
        slugs = {t.slug for t in templates}
        form.template.data = wanted_template if wanted_template in slugs else (fitting[0].slug if fitting else None)
        if draft:
            form.draft.data = request.args.get("draft")
            form.note.data = draft.get("note", "")
        _fill_details(form, {**visit.details, "zip": zip_code or ""})
        notice = (
            gettext("The letter you were writing was kept for a few hours and has expired. Please write it again.")
            if request.args.get("expired")
            else ""
        )
        return _render_write(form, campaign, targets, templates, notice=notice)
    if campaign.closed:  # a page opened before the campaign closed: say so, whatever else the form holds
        form.validate_on_submit()
        _attach(form, choosing.CampaignClosed(campaign).errors)
        return _render_write(form, campaign, targets, templates, 422)
    if not form.validate_on_submit():
        return _render_write(form, campaign, targets, templates, 422)
    try:
        template, chosen_targets = choosing.choose(
            campaign, form.template.data, form.targets.data, channel=None, zip_code=form.zip.data
        )
        if not _channels(template, chosen_targets):
            raise SubmissionInvalid({"targets": [NO_COMMON_CHANNEL]})
    except NotFound as exc:
        form.template.errors = [*form.template.errors, str(exc)]
        return _render_write(form, campaign, targets, templates, 422)
    except SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _render_write(form, campaign, targets, templates, 422)
    before = visit.draft(form.draft.data) if form.draft.data else None
    kept = {}
    # The language the letters go out in: the one chosen on the preview, else the reader's when every office reads it.
    language = drafting.default_language(template, chosen_targets, i18n.current())
    if before and before.get("template") == template.slug:  # edits survive a trip back to change the details
        kept = {t.id: before["letters"][t.id] for t in chosen_targets if t.id in (before.get("letters") or {})}
        language = before.get("language") if before.get("language") in template.languages else language
    try:  # the note's minimum, and a template this supporter's words break, while they are still on this page
        supporter = drafting.Supporter(**form.supporter_fields())
        if visit.available:  # the preview is a page of its own, which drafts them to show them
            drafted = drafting.draft_letters(campaign, template, chosen_targets, supporter, language=language), None
        else:  # this answer is the preview: drafted once, with the reader's own version beside them
            drafted = _draft(campaign, template, chosen_targets, supporter, language)
    except SubmissionInvalid as exc:
        _attach(form, exc.errors)
        return _render_write(form, campaign, targets, templates, 422)
    draft = {
        "campaign": slug,
        "template": template.slug,
        "targets": [target.id for target in chosen_targets],
        "zip": form.zip.data,
        "note": form.note.data or "",
        "letters": kept,
        "language": language,
        "edits": (before or {}).get("edits", {}) if before and before.get("template") == template.slug else {},
    }
    visit.remember_details(**{k: v for k, v in form.supporter_fields().items() if k != "note"})
    draft_id = visit.save_draft(draft, form.draft.data or None)
    if visits.save(visit):
        return redirect(url_for("letters.preview", slug=slug, draft_id=draft_id), 303)
    # No visit can be kept: answer the POST itself, with the letters just drafted.
    return _preview_from_draft(campaign, draft, draft_id, (template, chosen_targets, *drafted))


def _channels(template: LetterTemplate, targets: list[Target]) -> list[str]:
    """Ways out that every chosen target can take with this letter."""
    return [c for c in SEND_CHANNELS if all(c in template.channels_for(target) for target in targets)]


# ---- preview -------------------------------------------------------------------------------------------------


@bp.route("/c/<slug>/letter/<draft_id>")
def preview(slug: str, draft_id: str):
    """The letters as they will be sent, editable: a GET, so reloading it never sends the form again."""
    campaign = _campaign(slug)
    draft = visits.current().draft(draft_id)
    if draft is None or draft.get("campaign") != slug:
        return redirect(url_for("letters.write", slug=slug, expired=1), 303)
    return _preview_from_draft(campaign, draft, draft_id)


def _preview_from_draft(campaign: Campaign, draft: dict, draft_id: str, drafted=None):
    """The preview of a kept draft; `drafted` (the letter, its targets, their drafts and the reader's version, or
    None if not drafted yet) when the write step that answers with it has just drafted them."""
    visit = visits.current()
    details = {**visit.details, "zip": draft.get("zip", ""), "note": draft.get("note", "")}
    fields = {name: details.get(name) or "" for name in SUPPORTER_FIELDS}
    if drafted is not None:
        template, chosen, drafts, readable = drafted
        language = draft["language"]
        if readable is None:
            readable = _draft(campaign, template, chosen, drafting.Supporter(**fields), language, drafts)[1]
    else:
        try:
            template, chosen = choosing.choose(campaign, draft["template"], draft["targets"], None, fields["zip"])
            language = _letter_language(template, chosen, draft.get("language"))
            drafts, readable = _draft(campaign, template, chosen, drafting.Supporter(**fields), language)
        except (NotFound, SubmissionInvalid):
            # The campaign changed under the draft (a letter retired, a target removed): start the letter again.
            return redirect(url_for("letters.write", slug=campaign.slug, target=draft.get("targets"), expired=1), 303)
    form = SendForm(
        formdata=None,
        data={
            **fields,
            "targets": draft["targets"],
            "template": template.slug,
            "draft": draft_id,
            **visit.smtp,
            **{f"postal_{name}": value for name, value in (draft.get("postal") or {}).items()},
        },
    )
    _offer(form, campaign, fields["zip"])
    kept = draft.get("letters") or {}
    for item in drafts:
        edit = kept.get(item.target.id)
        if edit:
            entry = {"target": item.target.id, "subject": edit["subject"], "body": edit["body"], "drafted": ""}
        else:
            fingerprint = _fingerprint(item.subject, item.body)
            entry = {"target": item.target.id, "subject": item.subject, "body": item.body, "drafted": fingerprint}
        form.letters.append_entry(entry)
    return _render_preview(form, campaign, template, drafts, readable, kept=set(kept), language=language)


def _draft(campaign: Campaign, template: LetterTemplate, targets: list[Target], supporter, language: str, drafts=None):
    """The letters in `language` (unless already `drafts`), and in the reader's own language to read beside them
    when the letter has it: one round trip (`drafting.draft_in`). Raises SubmissionInvalid only for the letters that
    go out."""
    reader = i18n.current()
    if language != reader and reader in template.languages:
        wanted = [reader] if drafts is not None else [language, reader]
        try:
            *drafted, readable = drafting.draft_in(campaign, template, targets, supporter, wanted)
            return (drafts if drafts is not None else drafted[0]), {draft.target.id: draft for draft in readable}
        except SubmissionInvalid:
            pass  # the reader's version is only a help: the letters that go out are drafted alone
    if drafts is None:
        drafts = drafting.draft_letters(campaign, template, targets, supporter, language=language)
    return drafts, {}


def _letter_language(template: LetterTemplate, targets: list[Target], wanted: str | None) -> str:
    """The language the letters are written in: the one the supporter chose, if the letter has it, else the default
    (the reader's own when every office reads it; a member of Congress gets English)."""
    if wanted in template.languages:
        return wanted
    return drafting.default_language(template, targets, i18n.current())


def _render_preview(
    form: SendForm,
    campaign: Campaign,
    template: LetterTemplate,
    drafts,
    in_reader_language,
    status=200,
    kept=(),
    language=None,
    *,
    settings_check: dict | None = None,
):
    language = language or template.language or "en"
    by_target = {draft.target.id: draft for draft in drafts}
    shares = {}
    for entry in form.letters:
        draft = by_target.get(entry.form.target.data)
        if draft is not None:
            shares[draft.target.id] = draft.share(entry.form.body.data or "")
    targets = [draft.target for draft in drafts]
    channels = _channels(template, targets)
    reasons = []  # one notice per reason, however many letters share it
    if not set(channels) & {SMTP, MAILTO}:
        for target in targets:
            reason = campaign.no_email_reason(target, i18n.current())
            if reason and reason not in reasons:
                reasons.append(reason)
    detected = providers.detect(form.email.data or "", mx=current_app.config["MAIL_SETTINGS_MX_LOOKUP"])
    if not form.provider.data and detected.provider is not None:
        form.provider.data = detected.key  # settings found from the address; the supporter can still change them
    if CWC in channels:  # the address step starts from what the supporter told us
        first, last = cwc_address.split_name(form.name.data or "")
        states = {t.state for t in targets if t.state}
        form.fill_postal(
            {"first_name": first, "last_name": last, "zip": form.zip.data or "", "state": next(iter(states), "")}
            if len(states) == 1
            else {"first_name": first, "last_name": last, "zip": form.zip.data or ""}
        )
    contact_forms = [t for t in targets if t.contact_form]
    show_address = PRINT in channels and (not form.address.data or bool(form.address.errors))
    hidden = "change-details"  # details the preview carries unseen are fixed on the write page
    anchors = {"name": hidden, "email": hidden, "zip": hidden, "note": hidden, "targets": "letters"}
    anchors.update(template="letters", address="address" if show_address else hidden)
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
            notices=reasons,
            providers=providers.PROVIDERS,
            detected=detected,
            oauth_clients=oauth_clients(),
            kept=set(kept),
            # "their contact form" only where the data has one for every letter; otherwise their website.
            all_have_forms=len(contact_forms) == len(targets),
            no_form=[t for t in targets if not t.contact_form],
            show_address=show_address,
            problems=error_items(form, anchors),
            settings_check=settings_check,
            letter_language=language,
            letter_languages=template.languages,
            # The letter in the reader's own language, to read beside the one that goes out (not sent, not editable).
            in_reader_language=in_reader_language,
            offices_read=_offices_read(language, targets),
        ),
        status,
    )


def _offices_read(language: str, targets: list[Target]) -> bool:
    """Whether every office the letters go to reads `language` (a hint on the preview when one may not)."""
    return all(language in target.languages for target in targets)


# ---- send ----------------------------------------------------------------------------------------------------


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
        "letters": _edited_letters(form),
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
def send(slug: str):
    campaign = _campaign(slug)
    visit = visits.current()
    form = SendForm()
    targets, templates = _offer(form, campaign, request.form.get("zip"))
    action = request.form.get("action") or ""
    if action.startswith(LANGUAGE_ACTION):
        return _switch_language(visit, form, campaign, targets, templates, action.removeprefix(LANGUAGE_ACTION))
    if action == "edit":
        draft_id = _keep(visit, form, campaign)
        if draft_id:
            return redirect(url_for("letters.write", slug=slug, draft=draft_id), 303)
        back = WriteForm()
        _offer(back, campaign, request.form.get("zip"))
        return _render_write(back, campaign, targets, templates)
    if action == TEST_SETTINGS:
        return _test_settings(form, campaign, targets, templates)
    if not form.validate_on_submit() or action not in (*SEND_CHANNELS, *SIGN_IN_ACTIONS):
        return _preview_or_write(form, campaign, targets, templates)
    if action in SIGN_IN_ACTIONS:  # what can be checked before the supporter leaves for their provider
        try:
            choosing.choose(campaign, form.template.data, form.targets.data, channel=SMTP, zip_code=form.zip.data)
        except (NotFound, SubmissionInvalid) as exc:
            _attach(form, exc.errors if isinstance(exc, SubmissionInvalid) else {"template": [str(exc)]})
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
    slug = campaign.slug
    if not _letters_match(form):
        return _preview_or_write(form, campaign, targets, templates)
    # A letter the supporter never changed is written again from the template, so details they added on the way
    # (a postal address for printing) reach it; a changed one is sent exactly as they left it.
    edits = {target_id: (letter["subject"], letter["body"]) for target_id, letter in _edited_letters(form).items()}
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
        _attach(form, exc.errors if isinstance(exc, SubmissionInvalid) else {"template": [str(exc)]})
        return _preview_or_write(form, campaign, targets, templates)
    except RefusedHost as exc:
        form.smtp_host.errors = [*form.smtp_host.errors, reasons.translate(str(exc))]
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.smtp_password.errors = [
            *form.smtp_password.errors,
            gettext("We couldn't store your password safely just now. Please try again in a minute."),
        ]
        return _preview_or_write(form, campaign, targets, templates, 503)
    except limits.RateLimited as exc:
        field = getattr(form, getattr(exc, "field", "targets"))  # a paused mail server or account: its field
        field.errors = [*field.errors, exc.description]
        page, status = _preview_or_write(form, campaign, targets, templates, 429)
        return page, status, {"Retry-After": str(exc.retry_after_seconds)}
    db.session.commit()
    service.queue(submission)
    visit.record(slug, submission.id)
    visit.drop_draft(form.draft.data)
    visit.remember_details(**{k: v for k, v in form.supporter_fields().items() if k != "note"})
    if action == SMTP and isinstance(account, SmtpAccount):  # a server and user name; never a sign-in
        visit.remember_smtp({name: getattr(form, name).data for name in visits.SMTP_FIELDS})
    visits.save(visit)
    return redirect(url_for("letters.status", submission_id=submission.id), 303)


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
    try:
        sign_in, url = mailauth.start(
            provider,
            redirect_uri=url_for("letters.signed_in", provider=provider, _external=True),
            login_hint=form.email.data or "",
            purpose={"send": {"slug": campaign.slug, "form": fields}},
        )
    except mailauth.SignInFailed as exc:
        form.provider.errors = [*form.provider.errors, exc.translated()]
        return _preview_or_write(form, campaign, targets, templates)
    except RedisError:
        form.provider.errors = [
            *form.provider.errors,
            gettext("We couldn't start signing in just now. Please try again in a minute."),
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
        return render_template("letters/sign_in_failed.html", reason=gettext(mailauth.EXPIRED)), 400
    try:
        account = mailauth.finish(sign_in, request.args.to_dict())
    except mailauth.SignInFailed as exc:
        return _sign_in_failed(sign_in, exc.translated())
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
            sign_in, url = mailauth.start(
                provider,
                redirect_uri=url_for("letters.signed_in", provider=provider, _external=True),
                login_hint=submission.supporter_email,
                purpose={"retry": submission.id},
            )
        except (mailauth.SignInFailed, RedisError) as exc:
            reason = (
                exc.translated()
                if isinstance(exc, mailauth.SignInFailed)
                else gettext("We couldn't start signing in just now.")
            )
            return _status_page(submission.id, retry_error=reason, status=422)
        session[_SIGN_IN_SESSION] = sign_in.id
        return redirect(url, 303)
    account = form.smtp_account(submission)
    if account is None:
        return _status_page(submission.id, retry_form=form, status=422)
    return _retry_with(submission.id, account)


def _retry_with(submission_id: str, account):
    submission = reporting.find_submission(submission_id)
    if submission is None:
        abort(404)
    try:
        service.retry(submission, account)
        db.session.commit()
    except SubmissionInvalid as exc:
        return _status_page(submission_id, retry_error=" ".join(exc.errors.get("retry", [])), status=422)
    except RefusedHost as exc:
        return _status_page(submission_id, retry_error=reasons.translate(str(exc)), status=422)
    except limits.RateLimited as exc:
        page, status = _status_page(submission_id, retry_error=exc.description, status=429)
        return page, status, {"Retry-After": str(exc.retry_after_seconds)}
    except RedisError:
        return _status_page(
            submission_id,
            retry_error=gettext("We couldn't keep your sign-in safely just now. Please try again in a minute."),
            status=503,
        )
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
        return _render_write(form, campaign, targets, templates, status)
    _keep(visits.current(), form, campaign)
    fields = {name: getattr(form, name).data or "" for name in SUPPORTER_FIELDS}
    if any(getattr(form, name).errors for name in SUPPORTER_FIELDS):
        fields.update(address="", note="")  # draft with what is surely usable; the errors are shown
    language = _letter_language(template, chosen, request.form.get("language"))
    try:
        drafts, readable = _draft(campaign, template, chosen, drafting.Supporter(**fields), language)
    except SubmissionInvalid:
        return _render_write(form, campaign, targets, templates, status)
    kept = {entry.form.target.data for entry in form.letters if not entry.form.drafted.data}
    return _render_preview(
        form, campaign, template, drafts, readable, status, kept=kept, language=language, settings_check=settings_check
    )


# ---- calls, one office after another -------------------------------------------------------------------------


def _callable(campaign: Campaign, zip_code: str | None) -> list[Target]:
    """Offices a supporter can call for this campaign: a phone number and a call script that fits them."""
    scripts = call_scripts(campaign)
    return [
        target
        for target in _legislators(campaign, zip_code) + campaign_targets(campaign)
        if CALL in target.channels and any(script.fits(target) for script in scripts)
    ]


def _call_page(form: CallForm, campaign: Campaign, targets: list[Target], status: int = 200, headers=None):
    visit = visits.current()
    page = render_template(
        "letters/call.html",
        form=form,
        campaign=campaign,
        targets=targets,
        asks_zip=bool(form.legislator_ids),
        offered_zip=request.form.get("offered_zip") or request.form.get("zip") or form.zip.data,
        known=bool(visit.details.get("name")),
        problems=error_items(form),
    )
    return page, status, headers or {}


@bp.route("/c/<slug>/call", methods=["GET", "POST"])
def call(slug: str):
    """Who to call and the name (and ZIP) the script gives; then the calls, office after office (`calls`)."""
    campaign = _campaign(slug)
    visit = visits.current()
    form = CallForm()
    zip_code = request.values.get("zip") or (visit.details.get("zip") if request.method == "GET" else None)
    targets = _callable(campaign, zip_code)
    offered_zip = request.form.get("offered_zip")
    if offered_zip and offered_zip != zip_code:  # as on the write page: changing the ZIP keeps the choices
        known = {target.id for target in targets}
        targets += [t for t in _callable(campaign, offered_zip) if t.is_legislator and t.id not in known]
    form.targets.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    form.legislator_ids = frozenset(target.id for target in targets if target.is_legislator)
    if request.method == "GET":
        offered = [target.id for target in targets]
        wanted = [target_id for target_id in request.args.getlist("target") if target_id in offered]
        form.targets.data = wanted or offered
        _fill_details(form, {"name": visit.details.get("name", ""), "zip": zip_code or ""})
        return _call_page(form, campaign, targets)
    if campaign.closed:
        form.validate_on_submit()
        form.targets.errors = [*form.targets.errors, *choosing.CampaignClosed(campaign).errors["campaign"]]
        return _call_page(form, campaign, targets, 422)
    if not form.validate_on_submit():
        return _call_page(form, campaign, targets, 422)
    problems = []
    by_id = {target.id: target for target in targets}
    for target_id in form.targets.data:  # the same checks a call's letter gets: open campaign, the ZIP's own members
        script = next(s for s in call_scripts(campaign) if s.fits(by_id[target_id]))
        try:
            choosing.choose(campaign, script.slug, [target_id], CALL, form.zip.data or "")
        except (NotFound, SubmissionInvalid) as exc:
            errors = exc.errors if isinstance(exc, SubmissionInvalid) else {"targets": [str(exc)]}
            problems += [m for messages in errors.values() for m in messages if m not in problems]
    if problems:
        form.targets.errors = [*form.targets.errors, *problems]
        return _call_page(form, campaign, targets, 422)
    visit.remember_details(name=form.name.data, **({"zip": form.zip.data} if form.zip.data else {}))
    visit.set_calls(slug, {"queue": list(form.targets.data), "outcomes": {}, "zip": form.zip.data or ""})
    if not visits.save(visit):
        abort(503)
    return redirect(url_for("letters.calls", slug=slug), 303)


@bp.route("/c/<slug>/calls", methods=["GET", "POST"])
def calls(slug: str):
    """The call step-through: one office at a time, its number, the script, and what happened."""
    campaign = _campaign(slug)
    visit = visits.current()
    state = visit.calls(slug)
    queue = state.get("queue") or []
    name = visit.details.get("name")
    if not queue or not name:
        return redirect(url_for("letters.call", slug=slug), 303)
    zip_code = state.get("zip") or ""
    by_id = {target.id: target for target in _callable(campaign, zip_code)}
    queue = [target_id for target_id in queue if target_id in by_id]
    outcomes = dict(state.get("outcomes") or {})
    form = CallOutcomeForm()
    problem, status, headers = None, 200, {}
    if request.method == "POST":
        if request.form.get("action") == "retry" and VisitForm().validate_on_submit():
            outcomes = {target_id: o for target_id, o in outcomes.items() if o != "busy"}
            visit.set_calls(slug, {**state, "outcomes": outcomes})
            visits.save(visit)
            return redirect(url_for("letters.calls", slug=slug), 303)
        if not form.validate_on_submit() or form.target.data not in by_id:
            abort(400)
        if form.target.data in outcomes:  # answered already (a double tap, the Back button): counted once
            return redirect(url_for("letters.calls", slug=slug), 303)
        target = by_id[form.target.data]
        try:
            if form.outcome.data in ("called", "voicemail"):
                submission = _record_call(campaign, target, name, zip_code, form.outcome.data)
                db.session.commit()  # the call's letter and its outcome, counted together
                visit.record(slug, submission.id)
        except (NotFound, SubmissionInvalid) as exc:
            errors = exc.errors if isinstance(exc, SubmissionInvalid) else {"target": [str(exc)]}
            problem, status = " ".join(m for messages in errors.values() for m in messages), 422
        except limits.RateLimited as exc:
            problem, status, headers = exc.description, 429, {"Retry-After": str(exc.retry_after_seconds)}
        else:
            outcomes[target.id] = form.outcome.data
            visit.set_calls(slug, {**state, "outcomes": outcomes})
            visits.save(visit)
            return redirect(url_for("letters.calls", slug=slug), 303)
    remaining = [target_id for target_id in queue if target_id not in outcomes]
    if not remaining:
        return render_template(
            "letters/calls_done.html",
            campaign=campaign,
            called=[(by_id[target_id], outcomes[target_id]) for target_id in queue if target_id in outcomes],
            plan=actions.for_visit(campaign, visit),
            visit_form=VisitForm(),
            outcome_labels=CALL_OUTCOME_LABELS,
        )
    target = by_id[remaining[0]]
    script = next(s for s in call_scripts(campaign) if s.fits(target))
    supporter = drafting.Supporter(name=name, email="", zip=zip_code)
    # The words to say are in the office's language; the supporter's own language's version is there to read.
    language = drafting.default_language(script, [target], i18n.current())
    drafts, readable = _draft(campaign, script, [target], supporter, language)
    text = drafts[0].body
    readable = readable[target.id].body if readable else None
    offices = [o for o in congress.district_offices(target.id) if o.phone] if target.is_legislator else []
    page = render_template(
        "letters/calls.html",
        campaign=campaign,
        target=target,
        number=queue.index(target.id) + 1,
        total=len(queue),
        script=text,
        script_language=language,
        script_in_reader_language=readable,
        offices=offices,
        form=CallOutcomeForm(formdata=None, data={"target": target.id}),
        problem=problem,
    )
    return page, status, headers


# How each letter and call of a visit stands, for the receipt: one whole sentence per case (translations need them).
RECEIPT_LINES = {
    (SMTP, "sent"): _l("Email from your account: sent, and their mail server accepted it."),
    (SMTP, "failed"): _l("Email from your account: not sent."),
    (SMTP, "queued"): _l("Email from your account: on its way."),
    (SMTP, "sending"): _l("Email from your account: on its way."),
    (MAILTO, None): _l("From your mail app: ready for you to send."),
    (MAILTO, "sent"): _l("From your mail app: you said you sent it."),
    (CONTACT_FORM, None): _l("Through their contact form: ready for you to paste and send."),
    (CONTACT_FORM, "sent"): _l("Through their contact form: you said you sent it."),
    (PRINT, None): _l("Printed letter: ready to print, sign and mail."),
    (PRINT, "sent"): _l("Printed letter: you said you mailed it."),
    (CALL, None): _l("Phone call: the script was handed to you."),
    (CALL, "called"): _l("Phone call: you talked to someone."),
    (CALL, "voicemail"): _l("Phone call: you left a voicemail."),
    (CALL, "busy"): _l("Phone call: the line was busy or nobody answered."),
    (CALL, "skipped"): _l("Phone call: you skipped this office."),
}
ERASED_LINE = _l("Your details and the text were deleted; the count stays.")


def receipt_line(letter: dict, purged: bool = False) -> str:
    """The receipt's sentence for one letter as `letter_view` shows it."""
    if purged:
        return ERASED_LINE
    key = (
        (letter["channel"], letter["status"])
        if letter["channel"] == SMTP
        else (letter["channel"], letter.get("outcome"))
    )
    return RECEIPT_LINES.get(key, "")


CALL_OUTCOME_LABELS = {
    "called": _l("You talked to someone."),
    "voicemail": _l("You left a voicemail."),
    "busy": _l("The line was busy or nobody answered."),
    "skipped": _l("You skipped this office."),
}


def _record_call(campaign: Campaign, target: Target, name: str, zip_code: str, outcome: str):
    """A call the supporter made: the letter (the script) is written and handed off, and their word recorded."""
    script = next(s for s in call_scripts(campaign) if s.fits(target))
    supporter = drafting.Supporter(name=name, email="", zip=zip_code)
    submission = service.send(
        campaign, service.Order(script.slug, (target.id,), CALL, supporter, reader=i18n.current())
    )
    service.confirm(submission.letters[0], outcome)
    return submission


# ---- status, confirmations, print --------------------------------------------------------------------------------


@bp.route("/s/<submission_id>")
def status(submission_id: str):
    return _status_page(submission_id)


def _status_page(submission_id: str, *, retry_error: str | None = None, retry_form=None, status: int = 200):
    submission = reporting.find_submission(submission_id)
    if submission is None:
        abort(404)
    visit = visits.current()
    in_visit = visit.has(submission.id)
    campaign = submission.campaign
    view = reporting.submission_view(submission)
    failed = service.retryable(submission)
    provider = mail_account.signed_in_with(submission)
    return render_template(
        "letters/status.html",
        submission=submission,
        view=view,
        confirm_form=ConfirmForm(),
        forget_form=ForgetForm(),
        outcome_labels=OUTCOME_LABELS,
        # "their contact form" only where the data has one; otherwise the link is their website's home page.
        contact_forms={letter.target_id: bool(letter.target.contact_form) for letter in submission.letters},
        plan=actions.for_visit(campaign, visit) if in_visit and not campaign.closed else None,
        in_visit=in_visit,
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
    """Erase this submission's personal data now; the counts stay. The visit's copy of the details goes too."""
    if not ForgetForm().validate_on_submit():
        abort(400)
    if not privacy.forget_submission(submission_id):
        abort(404)
    visit = visits.current()
    if visit.has(submission_id):
        visit.data.pop("details", None)
        visit.data.pop("drafts", None)
        visit.data.pop("smtp", None)
        visits.save(visit)
    return redirect(url_for("letters.status", submission_id=submission_id), 303)


OUTCOME_LABELS = {
    (MAILTO, "sent"): _l("I sent it"),
    (CONTACT_FORM, "sent"): _l("I sent it through the form"),
    (PRINT, "sent"): _l("I mailed it"),
    (CALL, "called"): _l("I called and spoke to someone"),
    (CALL, "voicemail"): _l("No answer / I left a voicemail"),
}


@bp.route("/l/<letter_id>/confirm", methods=["POST"])
def confirm(letter_id: str):
    letter = reporting.find_letter(letter_id)
    if letter is None:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.confirm(letter, form.outcome.data)
        except SubmissionInvalid:
            abort(422)
        db.session.commit()
    else:
        abort(400)
    return redirect(url_for("letters.status", submission_id=letter.submission_id, _anchor=f"letter-{letter.id}"), 303)


# ---- the receipt of a visit ------------------------------------------------------------------------------------


@bp.route("/c/<slug>/receipt")
def receipt(slug: str):
    """Everything done in this visit for this campaign: each letter and call and how it stands, what is left, and
    ways to share the campaign."""
    campaign = find_campaign(slug, page=False)
    if campaign is None:
        abort(404)
    visit = visits.current()
    submissions = [s for s in map(reporting.find_submission, visit.submission_ids(slug)) if s is not None]
    outcomes = visit.call_outcomes(slug)
    queue = visit.calls(slug).get("queue") or []
    by_id = {target.id: target for target in _callable(campaign, visit.calls(slug).get("zip"))}
    not_reached = [(by_id[t], outcomes[t]) for t in queue if outcomes.get(t) in ("busy", "skipped") and t in by_id]
    return render_template(
        "letters/receipt.html",
        campaign=campaign,
        submissions=submissions,
        views={s.id: reporting.submission_view(s) for s in submissions},
        not_reached=not_reached,
        receipt_line=receipt_line,
        receipt_lines=RECEIPT_LINES,
        plan=None if campaign.closed else actions.for_visit(campaign, visit),
        share_url=url_for("campaigns.campaign", slug=slug, _external=True),
        visit_form=VisitForm(),
        details=visit.details,
    )


@bp.route("/visit/forget", methods=["POST"])
def forget_visit():
    """ "Not you?" on a shared device: forget this visit's details, drafts and receipt now (what was sent stays)."""
    if not VisitForm().validate_on_submit():
        abort(400)
    visits.end()
    back = request.form.get("campaign")
    campaign = find_campaign(back, page=False) if back else None
    return redirect(url_for("campaigns.campaign", slug=campaign.slug) if campaign else url_for("campaigns.index"), 303)


@bp.route("/c/<slug>/receipt/forget", methods=["POST"])
def forget_all(slug: str):
    """Erase the personal data of everything sent in this visit for this campaign, and end the visit."""
    if not ForgetForm().validate_on_submit():
        abort(400)
    for submission_id in visits.current().submission_ids(slug):
        privacy.forget_submission(submission_id)
    visits.end()
    return redirect(url_for("campaigns.campaign", slug=slug, forgotten=1), 303)


@bp.route("/l/<letter_id>/print")
def print_letter(letter_id: str):
    """A print-ready letter: the supporter's address block, the date, the office's address, the letter, room to sign.

    A member of Congress's letter goes by default to the district office nearest the supporter's ZIP code (mail to
    Washington is screened and slow); `?office=dc` picks the Washington office, `?office=ID` another one.
    """
    letter = reporting.find_letter(letter_id)
    if letter is None or letter.channel != PRINT:
        abort(404)
    target = letter.target
    submission = letter.submission
    if submission.purged_at is not None:  # deleted: its status page says so, rather than an empty letter to print
        return redirect(url_for("letters.status", submission_id=submission.id), 303)
    offices = (
        [office for office in congress.district_offices(target.id) if office.postal_address]
        if target.is_legislator
        else []
    )
    offices.sort(key=lambda office: _distance(office.zip, submission.supporter_zip))
    wanted = request.args.get("office")
    chosen = None if wanted == "dc" else next((o for o in offices if o.id == wanted), offices[0] if offices else None)
    before, signature = _signature_split(letter.body or "", submission.supporter_name or "")
    return render_template(
        "letters/print.html",
        letter=letter,
        submission=submission,
        target=target,
        offices=offices,
        chosen=chosen,
        nearest=offices[0] if offices and submission.supporter_zip else None,
        recipient_block=_recipient_block(target, chosen),
        body_before_signature=before,
        signature=signature,
        today=dt.date.today(),
    )


def _distance(office_zip: str, supporter_zip: str) -> tuple[int, int]:
    """How far an office is from the supporter, by ZIP code: first the digits they share (ZIPs that share their
    first three digits share a mail-sorting center), then how far apart the numbers are."""
    office, home = (office_zip or "")[:5], (supporter_zip or "")[:5]
    if not (office.isdigit() and home.isdigit()):
        return (0, 0)
    shared = next((i for i, (a, b) in enumerate(zip(office, home, strict=False)) if a != b), 5)
    return (-shared, abs(int(office) - int(home)))


def _signature_split(body: str, name: str) -> tuple[str, str]:
    """The letter up to the supporter's typed name, and from it on, so the printed page leaves room to sign above it.

    The name is looked for from the end (it closes the letter); a letter that doesn't end with it gets it added."""
    lines = body.rstrip("\n").split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if name and lines[index].strip() == name.strip():
            return "\n".join(lines[:index]), "\n".join(lines[index:])
    return body.rstrip("\n"), name


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
