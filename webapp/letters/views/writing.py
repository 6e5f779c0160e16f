"""The write page and the preview: whom to write and which letter, the letters drafted to read and edit."""

from __future__ import annotations

import hashlib

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from webapp import i18n
from webapp.campaigns.service import campaign_targets, find_campaign, letter_templates
from webapp.congress import service as congress
from webapp.core.rendering import RendererUnavailable
from webapp.cwc import address as cwc_address
from webapp.errors import RENDERER_UNAVAILABLE
from webapp.i18n import gettext
from webapp.i18n import lazy_gettext as _l
from webapp.letters import choosing, drafting, words
from webapp.letters import visit as visits
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.letters.forms import SendForm, VisitForm, WriteForm, error_items
from webapp.letters.views import bp
from webapp.mailauth import providers
from webapp.mailauth.service import clients as oauth_clients
from webapp.models import CALL, CONTACT_FORM, CWC, MAILTO, PRINT, SMTP, Campaign, LetterTemplate, Target
from webapp.security import bodies

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


def open_campaign(slug: str) -> Campaign:
    campaign = find_campaign(slug, page=False)
    if campaign is None:
        abort(404)
    if campaign.closed and request.method == "GET":
        # Nothing to write any more: the campaign page thanks supporters and shows the totals.
        abort(redirect(url_for("campaigns.campaign", slug=slug), 303))
    return campaign


def legislators(campaign: Campaign, zip_code: str | None) -> list[Target]:
    """The members of Congress for this ZIP, if the campaign writes to Congress and the ZIP is known."""
    if not (campaign.congress and zip_code):
        return []
    try:
        return congress.legislators_for_zip(zip_code)
    except (congress.InvalidZip, congress.UnknownZip, congress.CongressDataMissing):
        return []


def _reachable(target: Target, templates: list[LetterTemplate]) -> bool:
    return any(template.fits(target) and template.channels_for(target) for template in templates)


def offer(
    form: WriteForm, campaign: Campaign, zip_code: str | None, offered_zip: str | None = None
) -> tuple[list[Target], list[LetterTemplate]]:
    """Targets and letters a supporter may choose: the campaign's own, plus their members of Congress.

    On a POST, the members offered with the page (`offered_zip`) stay choices even if the ZIP was changed, so
    the answer is "they don't represent that ZIP" (or "enter your ZIP") rather than "not a valid choice"."""
    templates = letter_templates(campaign)
    members = legislators(campaign, zip_code)
    if offered_zip and offered_zip != zip_code:
        members += [t for t in legislators(campaign, offered_zip) if t.id not in {m.id for m in members}]
    # A target no letter can reach is never offered (a call-only office is offered on the call page).
    targets = [t for t in campaign_targets(campaign) + members if _reachable(t, templates)]
    # A letter none of them can take (Congress's before a ZIP code) is not offered "For" nobody.
    templates = [template for template in templates if any(_reachable(t, [template]) for t in targets)]
    form.targets.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    form.template.choices = [SelectChoice(template.slug, template.name) for template in templates]
    form.legislator_ids = frozenset(target.id for target in targets if target.is_legislator)
    return targets, templates


def render_write(form: WriteForm, campaign: Campaign, targets, templates, status: int = 200, notice: str = ""):
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


def attach(form, errors: dict[str, list[str]]) -> None:
    """Put service errors next to the fields they are about ("supporter.email" → the email field)."""
    for key, messages in errors.items():
        if key == "postal" or key.startswith("postal."):  # the address a letter to Congress through CWC carries
            form.attach_postal_errors({key: messages})
            continue
        name = key.removeprefix("supporter.")
        field = getattr(form, name, None) if name in (*SUPPORTER_FIELDS, "targets", "template") else None
        field = field or form.targets
        field.errors = [*field.errors, *messages]


def renderer_unavailable(form) -> None:
    """Say, above the form (which still holds everything the supporter typed), that no render process could draft
    the letters just now; once, however many steps found it."""
    message = str(RENDERER_UNAVAILABLE)
    if message not in form.template.errors:
        form.template.errors = [*form.template.errors, message]


def try_again_later(answer: tuple, exc: RendererUnavailable) -> tuple:
    """A page (and its status) answered as a 503 that says when to try again."""
    return answer[0], 503, {"Retry-After": str(exc.retry_after_seconds)}


def fill_details(form, details: dict[str, str]) -> None:
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


def edited_letters(form: SendForm) -> dict[str, dict[str, str]]:
    """Letters the supporter changed (now or on an earlier page), by target id, to keep across every step."""
    kept = {}
    for entry in form.letters:
        letter = entry.form
        if not letter.drafted.data or _fingerprint(letter.subject.data, letter.body.data) != letter.drafted.data:
            kept[letter.target.data] = {"subject": letter.subject.data or "", "body": letter.body.data or ""}
    return kept


@bp.route("/c/<slug>/write", methods=["GET", "POST"])
@bodies.takes_a_letter
def write(slug: str):
    campaign = open_campaign(slug)
    visit = visits.current()
    form = WriteForm()
    if request.method == "GET":
        draft = visit.draft(request.args.get("draft"))
        if draft and draft.get("campaign") != slug:
            draft = None
        zip_code = request.args.get("zip") or (draft or {}).get("zip") or visit.details.get("zip")
    else:
        zip_code = request.form.get("zip")
    targets, templates = offer(form, campaign, zip_code, request.form.get("offered_zip"))
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
        fill_details(form, {**visit.details, "zip": zip_code or ""})
        notice = (
            gettext("The letter you were writing was kept for a few hours and has expired. Please write it again.")
            if request.args.get("expired")
            else ""
        )
        return render_write(form, campaign, targets, templates, notice=notice)
    if campaign.closed:  # a page opened before the campaign closed: say so, whatever else the form holds
        form.validate_on_submit()
        attach(form, choosing.CampaignClosed(campaign).errors)
        return render_write(form, campaign, targets, templates, 422)
    if not form.validate_on_submit():
        return render_write(form, campaign, targets, templates, 422)
    try:
        template, chosen_targets = choosing.choose(
            campaign, form.template.data, form.targets.data, channel=None, zip_code=form.zip.data
        )
        if not common_channels(template, chosen_targets):
            raise SubmissionInvalid({"targets": [NO_COMMON_CHANNEL]})
    except NotFound as exc:
        form.template.errors = [*form.template.errors, str(exc)]
        return render_write(form, campaign, targets, templates, 422)
    except SubmissionInvalid as exc:
        attach(form, exc.errors)
        return render_write(form, campaign, targets, templates, 422)
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
            drafted = draft_with_reader(campaign, template, chosen_targets, supporter, language)
    except SubmissionInvalid as exc:
        attach(form, exc.errors)
        return render_write(form, campaign, targets, templates, 422)
    except RendererUnavailable as exc:
        renderer_unavailable(form)
        return try_again_later(render_write(form, campaign, targets, templates), exc)
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


def common_channels(template: LetterTemplate, targets: list[Target]) -> list[str]:
    """Ways out that every chosen target can take with this letter."""
    return [c for c in SEND_CHANNELS if all(c in template.channels_for(target) for target in targets)]


@bp.route("/c/<slug>/letter/<draft_id>")
def preview(slug: str, draft_id: str):
    """The letters as they will be sent, editable: a GET, so reloading it never sends the form again. Never cached,
    so going Back to it once the letter went out asks again, and lands on the letter's status page."""
    campaign = open_campaign(slug)
    visit = visits.current()
    sent = visits.draft_sent_as(visit, draft_id)
    draft = visit.draft(draft_id)
    if sent:
        response = redirect(url_for("letters.status", submission_id=sent), 303)
    elif draft is None or draft.get("campaign") != slug:
        response = redirect(url_for("letters.write", slug=slug, expired=1), 303)
    else:
        response = make_response(_preview_from_draft(campaign, draft, draft_id))
    response.headers["Cache-Control"] = "no-store"
    return response


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
            readable = draft_with_reader(campaign, template, chosen, drafting.Supporter(**fields), language, drafts)[1]
    else:
        try:
            template, chosen = choosing.choose(campaign, draft["template"], draft["targets"], None, fields["zip"])
            language = letter_language(template, chosen, draft.get("language"))
            drafts, readable = draft_with_reader(campaign, template, chosen, drafting.Supporter(**fields), language)
        except (NotFound, SubmissionInvalid):
            # The campaign changed under the draft (a letter retired, a target removed): start the letter again.
            return redirect(url_for("letters.write", slug=campaign.slug, target=draft.get("targets"), expired=1), 303)
        except RendererUnavailable as exc:
            # The write page with the draft's details (its edits stay in the visit, and come back with it).
            form = WriteForm(
                formdata=None,
                data={**fields, "targets": draft["targets"], "template": draft["template"], "draft": draft_id},
            )
            targets, templates = offer(form, campaign, fields["zip"])
            renderer_unavailable(form)
            return try_again_later(render_write(form, campaign, targets, templates), exc)
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
    offer(form, campaign, fields["zip"])
    kept = draft.get("letters") or {}
    for item in drafts:
        edit = kept.get(item.target.id)
        if edit:
            entry = {"target": item.target.id, "subject": edit["subject"], "body": edit["body"], "drafted": ""}
        else:
            fingerprint = _fingerprint(item.subject, item.body)
            entry = {"target": item.target.id, "subject": item.subject, "body": item.body, "drafted": fingerprint}
        form.letters.append_entry(entry)
    return render_preview(form, campaign, template, drafts, readable, kept=set(kept), language=language)


def draft_with_reader(
    campaign: Campaign, template: LetterTemplate, targets: list[Target], supporter, language: str, drafts=None
):
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


def letter_language(template: LetterTemplate, targets: list[Target], wanted: str | None) -> str:
    """The language the letters are written in: the one the supporter chose, if the letter has it, else the default
    (the reader's own when every office reads it; a member of Congress gets English)."""
    if wanted in template.languages:
        return wanted
    return drafting.default_language(template, targets, i18n.current())


def render_preview(
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
    chosen: list[Target] | None = None,
):
    """The preview page; `chosen` names the targets when there are no `drafts` (no render process could draft them:
    the letters shown are the ones the supporter sent back, as they typed them)."""
    language = language or template.language or "en"
    by_target = {draft.target.id: draft for draft in drafts}
    shares = {}
    for entry in form.letters:
        draft = by_target.get(entry.form.target.data)
        if draft is not None:
            shares[draft.target.id] = draft.share(entry.form.body.data or "")
    targets = [draft.target for draft in drafts] or list(chosen or [])
    channels = common_channels(template, targets)
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
