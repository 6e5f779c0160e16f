"""A supporter's letters: drafting them from a template, writing the outbox, and reporting their status."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from redis.exceptions import RedisError
from sqlalchemy.orm import joinedload, selectinload

from webapp import i18n, outbox
from webapp.campaigns.service import active_templates, campaign_targets
from webapp.congress import service as congress
from webapp.core import validation
from webapp.core.invalid import Invalid
from webapp.core.rendering import LetterTemplateError, context_for, render_many, supporter_variables, target_variables
from webapp.cwc import address as cwc_address
from webapp.cwc import service as cwc
from webapp.cwc.address import PostalAddress
from webapp.delivery import budget, credentials, oauth, ssrf
from webapp.delivery.credentials import Account, OAuthAccount, SmtpAccount
from webapp.delivery.deadline import DeadlineExceeded
from webapp.extensions import db
from webapp.i18n import gettext, reasons, roles
from webapp.i18n import lazy_gettext as _l
from webapp.letters import words
from webapp.letters.handoff import hand_off, tel_uri
from webapp.models import (
    CALL,
    CONTACT_FORM,
    CWC,
    DELIVERED_CHANNELS,
    EMAIL_CHANNELS,
    FAILED,
    HANDED_OFF,
    MAILTO,
    OUTCOMES,
    PRINT,
    QUEUED,
    SMTP,
    Campaign,
    Letter,
    LetterTemplate,
    Submission,
    Target,
    new_letter_id,
    new_submission_id,
    utcnow,
)
from webapp.security import limits

log = logging.getLogger(__name__)


class SubmissionInvalid(Invalid):
    """Input that cannot become letters: field path → messages, for a 422 or the form."""


class NotFound(LookupError):
    """An unknown campaign, template or target id: a 404."""


@dataclass(frozen=True)
class Supporter:
    name: str
    email: str
    zip: str
    address: str = ""
    note: str = ""

    def variables(self, *, with_note: bool = True) -> dict[str, str]:
        return supporter_variables(self.name, self.email, self.zip, self.address, self.note if with_note else "")


@dataclass(frozen=True)
class Draft:
    """One target's letter as the template renders it, before the supporter's edits."""

    target: Target
    subject: str
    body: str
    baseline: str  # the body without the supporter's note, for the personal-words meter

    def share(self, final_body: str | None = None) -> float:
        return words.personal_share(self.baseline, self.body if final_body is None else final_body)


# ---- what organizers decide about a campaign and a letter (the organizer workspace sets these) ----


class CampaignClosed(SubmissionInvalid):
    """The organizers closed the campaign: it takes no more letters."""

    def __init__(self, campaign: Campaign):
        super().__init__(
            {
                "campaign": [
                    gettext(
                        "“%(title)s” has closed and takes no more letters. Thank you for caring: "
                        "the campaign page shows what everyone sent.",
                        title=campaign.title,
                    )
                ]
            }
        )


def ensure_open(campaign: Campaign) -> None:
    if campaign.closed_at is not None:
        raise CampaignClosed(campaign)


def check_note_length(template: LetterTemplate, supporter: Supporter) -> None:
    """A letter may ask for a minimum of the supporter's own words (call scripts have no note)."""
    minimum = template.min_note_length or 0
    written = len(supporter.note.strip())
    if minimum and template.channels != [CALL] and written < minimum:
        raise SubmissionInvalid(
            {
                "supporter.note": [
                    gettext(
                        "This letter asks for at least %(minimum)s characters in your own words (you wrote "
                        "%(written)s). A sentence or two about why this matters to you is enough.",
                        minimum=i18n.number(minimum),
                        written=i18n.number(written),
                    )
                ]
            }
        )


def draft_letters(
    campaign: Campaign,
    template: LetterTemplate,
    targets: list[Target],
    supporter: Supporter,
    today: dt.date | None = None,
    language: str | None = None,
) -> list[Draft]:
    """Each target's letter from the template, in `language` (the template's own when it has no such version)."""
    return draft_in(campaign, template, targets, supporter, [language], today)[0]


def draft_in(
    campaign: Campaign,
    template: LetterTemplate,
    targets: list[Target],
    supporter: Supporter,
    languages: list[str | None],
    today: dt.date | None = None,
) -> list[list[Draft]]:
    """Each target's letter in each of `languages` (the letter that goes out, and the one the reader reads beside
    it), in one round trip to a render process: a request drafts its letters once."""
    check_note_length(template, supporter)
    if not targets:
        return [[] for _ in languages]
    campaign_vars = {"title": campaign.title, "slug": campaign.slug}
    jobs = []  # each target's letter, then the same without the note (for the personal-words meter)
    for language in languages:
        text = template.text_in(language)
        for target in targets:
            target_vars = target_variables(target)
            for with_note in (True, False):
                variables = supporter.variables(with_note=with_note)
                context = context_for(supporter=variables, target=target_vars, campaign=campaign_vars, today=today)
                if text.language != "en":  # `today` as the letter's language writes a date
                    context["today"] = i18n.letter_date(today or dt.date.today(), text.language)
                jobs.append((text.subject, text.full_body, context))
    try:
        letters = render_many(jobs)  # one round trip to a render process for the whole request
    except LetterTemplateError as exc:
        # Templates are checked when saved, with several sample supporters; this supporter's words still found
        # a way to break it (or make it too big). Their text is kept; the log tells the operator which template.
        log.error("template.render_failed template=%s error=%s", template.id, exc)
        raise SubmissionInvalid(
            {
                "template": [
                    gettext(
                        "This letter can't be written with what you typed: the organizers' template has a problem. "
                        "Everything you typed is still here: pick another letter, or try again later."
                    )
                ]
            }
        ) from None
    drafted = []
    for start in range(0, len(letters), 2 * len(targets)):
        rendered = letters[start : start + 2 * len(targets)]
        drafted.append(
            [
                Draft(target, full.subject, full.body, baseline.body)
                for target, full, baseline in zip(targets, rendered[0::2], rendered[1::2], strict=True)
            ]
        )
    return drafted


def find_members(raw_zip: str | None) -> tuple[congress.ZipLookup | None, str | None]:
    """The supporter's members of Congress for the ZIP they typed (the campaign page and its embed), or the message
    that says what went wrong; (None, None) before any ZIP is typed."""
    if not raw_zip:
        return None, None
    try:
        return congress.lookup(raw_zip), None
    except congress.InvalidZip:
        return None, gettext("Please enter a 5-digit ZIP code (or ZIP+4, like 94110-1234).")
    except congress.UnknownZip as exc:
        return None, reasons.translate(str(exc)) or gettext(
            "We don't know that ZIP code. Check it, or use the House's find-your-representative page."
        )
    except congress.CongressDataMissing:
        return None, gettext("The list of members of Congress isn't loaded on this server yet. Please try again later.")


def check_language(template: LetterTemplate, language: str | None) -> str:
    """The language a submission's letters are written in: one the template has (its own when none is named)."""
    if not language:
        return template.language or "en"
    if language not in template.languages:
        names = ", ".join(f"{code} ({i18n.language_name(code)})" for code in template.languages)
        raise SubmissionInvalid({"language": [gettext("This letter can be sent in: %(languages)s.", languages=names)]})
    return language


def default_language(template: LetterTemplate, targets: list[Target], reader: str) -> str:
    """The language a letter goes out in unless the supporter chooses: the reader's own when the letter has it and
    every office it goes to reads it (a member of Congress reads English; an office may list more languages),
    else the letter's own language."""
    if reader in template.languages and all(reader in target.languages for target in targets):
        return reader
    return template.language or "en"


def choose(
    campaign: Campaign, template_slug: str, target_ids: list[str], channel: str | None, zip_code: str = ""
) -> tuple[LetterTemplate, list[Target]]:
    """The template and targets a request names, checked against the campaign and the supporter's ZIP.

    Recipients come only from target records: the campaign's own targets, or, for a campaign that
    writes to Congress, the members who represent `zip_code`. Raises NotFound or SubmissionInvalid.
    """
    ensure_open(campaign)
    template = next((t for t in active_templates(campaign) if t.slug == template_slug), None)
    if template is None:
        raise NotFound(gettext("No letter '%(slug)s' in this campaign.", slug=template_slug))
    if not target_ids:
        raise SubmissionInvalid({"targets": [gettext("Choose at least one person to write to.")]})
    if len(set(target_ids)) != len(target_ids):
        raise SubmissionInvalid({"targets": [gettext("Each person can be chosen only once.")]})
    offered = {target.id: target for target in campaign_targets(campaign)}
    chosen = []
    errors: list[str] = []
    for target_id in target_ids:
        target = offered.get(target_id) or db.session.get(Target, target_id)
        if target is None:
            raise NotFound(gettext("No target '%(id)s'.", id=target_id))
        problem = _not_offered(campaign, target, zip_code) if target_id not in offered else None
        if problem is None and not template.fits(target):
            problem = gettext(
                "The letter '%(letter)s' is not meant for %(name)s.", letter=template.name, name=target.name
            )
        if problem is None and channel and channel not in template.channels_for(target):
            problem = (target.no_email_reason if channel in EMAIL_CHANNELS else None) or _unreachable(target, channel)
        if problem:
            errors.append(problem)
        else:
            chosen.append(target)
    if errors:
        raise SubmissionInvalid({"targets": errors})
    return template, chosen


def _not_offered(campaign: Campaign, target: Target, zip_code: str) -> str | None:
    """Why a target outside the campaign's own list may not be written to, or None if it may."""
    if not (target.is_legislator and campaign.congress):
        return gettext("'%(id)s' is not someone this campaign writes to.", id=target.id)
    if not target.active:
        return gettext("%(name)s is no longer in office.", name=target.name)
    if target.id not in congress.allowed_legislator_ids(zip_code):
        if zip_code:
            return gettext(
                "%(member)s does not represent ZIP code %(zip)s. You can write only to your own members of Congress.",
                member=f"{roles.with_name(target.role, target.name)} ({target.state})",
                zip=zip_code,
            )
        return gettext(
            "%(member)s does not represent the ZIP code you gave. You can write only to your own members of Congress.",
            member=f"{roles.with_name(target.role, target.name)} ({target.state})",
        )
    return None


def _unreachable(target: Target, channel: str) -> str:
    if channel == CONTACT_FORM:
        return gettext("We don't know a contact form for %(name)s.", name=target.name)
    if channel == CALL:
        return gettext("We don't have a phone number for %(name)s.", name=target.name)
    if channel == PRINT:
        return gettext("We don't have a postal address for %(name)s.", name=target.name)
    if channel == CWC:
        return gettext(
            "This letter can't be delivered to %(name)s's office through Congress's own system here.", name=target.name
        )
    return gettext("%(name)s can't be reached that way.", name=target.name)


def check_smtp_host(host: str, port: int) -> None:
    """Refuse a host the SSRF policy would refuse (RefusedHost), now, so the supporter can fix it on the form. A
    lookup that outlasts ssrf.LOOKUP_SECONDS (DNS down or slow) refuses nothing: the worker checks the host again
    within its own deadline and says so if it still can't, and the supporter's letter is not lost meanwhile."""
    config = current_app.config
    try:
        ssrf.check(host, port, config["SMTP_ALLOWED_HOSTS"], tuple(config["SMTP_ALLOWED_PORTS"]))
    except DeadlineExceeded:
        log.warning("smtp_host.lookup_too_long_at_intake")


class SignInsPaused(limits.RateLimited):
    """Workers have stopped offering passwords to this mail server, or to this account, for now (too many refused
    sign-ins: webapp/delivery/budget.py): a 429 that says so at once, instead of a letter that would only wait.
    `field` is the form field it is about (smtp_host or smtp_username)."""

    def __init__(self, retry_after_seconds: int, message: str, field: str):
        super().__init__(retry_after_seconds, message)
        self.field = field


def check_sign_ins(account: Account | None) -> None:
    """Refuse a password for a mail server or account whose budget of refused sign-ins is spent (SignInsPaused)."""
    if not isinstance(account, SmtpAccount):
        return
    host = ssrf.normalize_host(account.host)
    pause = budget.paused(host, account.username)
    if pause is None:
        return
    wait = limits.in_words(pause.seconds)
    if pause.scope == budget.HOST:
        raise SignInsPaused(
            pause.seconds,
            gettext(
                "Too many sign-ins to %(host)s through Outcry failed recently, so we've paused sending from there "
                "for now (it protects people whose passwords were stolen). Please try again in %(wait)s; your letter "
                "is kept here meanwhile.",
                host=host,
                wait=wait,
            ),
            "smtp_host",
        )
    raise SignInsPaused(
        pause.seconds,
        gettext(
            "Your mail server refused the password for %(username)s several times recently, so we've paused signing "
            "in to that account for now (so nobody can guess its password through Outcry). Check your password "
            "(Gmail, Yahoo and iCloud need an app password) and try again in %(wait)s.",
            username=account.username,
            wait=wait,
        ),
        "smtp_username",
    )


def check_account(account: Account) -> None:
    """What every path that takes a supporter's mail account checks before anything is counted or written (a new
    submission, the form's or the API's, and sending failed letters again): the mail server is one Outcry may
    connect to (RefusedHost), its sign-ins are not paused (SignInsPaused), and the password could be stored now
    where nothing reaches a disk (a RedisError)."""
    if isinstance(account, SmtpAccount):
        check_smtp_host(account.host, account.port)
    check_sign_ins(account)
    credentials.check_store()


Edit = tuple[str | None, str | None]  # (subject, body); None keeps the template's text


def _edited(draft: Draft, edit: Edit | None) -> tuple[str, str]:
    subject, body = edit or (None, None)
    errors: dict[str, list[str]] = {}
    if subject is not None:
        try:
            subject = validation.subject(subject)
        except validation.FieldError as exc:
            errors["subject"] = [str(exc)]
    if body is not None:
        try:
            body = validation.body(body)
        except validation.FieldError as exc:
            errors["body"] = [str(exc)]
    if errors:
        raise SubmissionInvalid(errors)
    return subject if subject is not None else draft.subject, body if body is not None else draft.body


@dataclass(frozen=True)
class Order:
    """What a supporter asks for, as every path hands it over (the send form, the API, a recorded call, a refused
    letter sent another way): names of a letter and of targets, not records, so `send` checks them."""

    template: str  # the letter's slug
    targets: tuple[str, ...]  # target ids, in the order the letters are written
    channel: str
    supporter: Supporter
    edits: dict[str, Edit] | None = None  # by target id
    edit_all: Edit | None = None
    account: Account | None = None
    postal: PostalAddress | None = None
    language: str | None = None
    # The pages' reader: a language the letter does not have falls back to the default for this reader (the pages
    # offer only the letter's languages) instead of being refused, as the API refuses it.
    reader: str | None = None


def send(campaign: Campaign, order: Order) -> Submission:
    """The submission use case, one for every path: choose the letter and the targets (the campaign's own, or the
    supporter's ZIP's members), check the mail account, draft once and write the outbox (`submit`).

    Raises NotFound, SubmissionInvalid, RefusedHost, limits.RateLimited (SignInsPaused among them) or a RedisError,
    before anything is written. Flushes; the caller commits, then `queue`s."""
    template, targets = choose(campaign, order.template, list(order.targets), order.channel, order.supporter.zip)
    language = order.language
    if order.reader is not None and language not in template.languages:
        language = default_language(template, targets, order.reader)
    return submit(
        campaign,
        template,
        targets,
        order.supporter,
        order.channel,
        edits=order.edits,
        edit_all=order.edit_all,
        account=order.account,
        postal=order.postal,
        language=language,
    )


def submit(
    campaign: Campaign,
    template: LetterTemplate,
    targets: list[Target],
    supporter: Supporter,
    channel: str,
    *,
    edits: dict[str, Edit] | None = None,
    edit_all: Edit | None = None,
    account: Account | None = None,
    postal: PostalAddress | None = None,
    language: str | None = None,
) -> Submission:
    """Write the submission and one letter per target (the outbox) in the caller's transaction, for chosen
    `targets` (`send` chooses them; so do tests and the drills).

    The caller commits, then `queue`s: rows are committed before anything is queued. Hand-offs are counted with
    their rows. A letter to Congress through CWC needs `postal`, in the seat of every member it goes to, and a
    message the grammar accepts. An `account` is checked first (`check_account`: RefusedHost, SignInsPaused, a
    RedisError); a password that cannot be stored rolls the rows back.
    """
    ensure_open(campaign)
    if channel == SMTP and account is None:
        raise SubmissionInvalid(
            {"smtp": [gettext("Your mail server settings are needed to send from your own email.")]}
        )
    if channel != CALL and not supporter.email:
        raise SubmissionInvalid({"supporter.email": [gettext("Please enter your email address.")]})
    if channel == PRINT and not supporter.address:
        raise SubmissionInvalid(
            {
                "supporter.address": [
                    gettext("A printed letter needs your postal address: offices answer constituents by mail.")
                ]
            }
        )
    if account is not None:
        check_account(account)  # before any budget of the submission is spent
    if channel == CWC:
        _check_postal(postal, targets)
    language = check_language(template, language)
    drafts = draft_letters(campaign, template, targets, supporter, language=language)
    now = utcnow()
    delivered = channel in DELIVERED_CHANNELS
    submission = Submission(
        id=new_submission_id(),
        campaign=campaign,
        campaign_id=campaign.id,
        template_id=template.id,
        channel=channel,
        supporter_name=supporter.name,
        supporter_email=supporter.email,
        supporter_zip=supporter.zip,
        supporter_address=supporter.address or (postal.lines if channel == CWC and postal else ""),
        supporter_note=supporter.note,
        constituent=postal.as_dict() if channel == CWC and postal else None,
        smtp_host=_where(account),
        smtp_port=account.port if isinstance(account, SmtpAccount) else None,
        language=language,
        created_at=now,
    )
    lease = now + dt.timedelta(seconds=current_app.config["DELIVERY_QUEUE_LEASE"])
    letters = []
    for position, draft in enumerate(drafts):
        subject, body = _edited(draft, (edits or {}).get(draft.target.id, edit_all))
        letters.append(
            Letter(
                id=new_letter_id(),
                submission_id=submission.id,
                position=position,
                campaign_id=campaign.id,
                target=draft.target,
                target_id=draft.target.id,
                template_id=template.id,
                template_version=template.version,
                channel=channel,
                status=QUEUED if delivered else HANDED_OFF,
                # Where it goes, from the target's record: their email, or their office's CWC code.
                recipient=cwc.office_code(draft.target) if channel == CWC else draft.target.email,
                subject=subject,
                body=body,
                personal_share=draft.share(body),
                lease_until=lease if delivered else None,
                finished_at=None if delivered else now,
                created_at=now,
            )
        )
    submission.letters = letters
    if channel == CWC and postal is not None:
        _check_cwc_messages(campaign, template, supporter, postal, letters)
    sender = credentials.sender_fingerprint(supporter.email, account) if account is not None else None
    limits.check_submission(campaign, channel, [target.id for target in targets], sender)  # raises RateLimited
    outbox.insert_submission(submission, letters, now)  # the rows, and the hand-offs counted with them
    if account is not None:
        try:
            credentials.store(submission.id, account)
        except RedisError:
            db.session.rollback()
            log.error("credentials.store_failed campaign=%s", campaign.slug)
            raise
    log.info("submission.created submission=%s letters=%d channel=%s", submission.id, len(letters), channel)
    return submission


def queue(submission: Submission) -> None:
    """Ask a worker to deliver the submission's letters, once the caller has committed them (hand-offs wait for
    nobody). A broker outage only delays them: the sweeper finds them when their lease runs out."""
    if submission.channel in DELIVERED_CHANNELS:
        outbox.enqueue(submission.id)


def _where(account: Account | None) -> str | None:
    """What a submission records about where its letters leave from: the mail server, or the sign-in."""
    if isinstance(account, OAuthAccount):
        return f"{oauth.SIGNED_IN_PREFIX}{account.provider}"
    return account.host if account else None


def signed_in_with(submission: Submission) -> str | None:
    """ "google" or "microsoft" when the submission was sent with a sign-in, else None."""
    return oauth.signed_in_provider(submission.smtp_host)


def retryable(submission: Submission) -> list[Letter]:
    """The letters a supporter may send again from the status page: own-email letters that failed, while the
    submission's text is still kept."""
    if submission.purged_at is not None or submission.channel != SMTP:
        return []
    return [letter for letter in submission.letters if letter.status == FAILED]


def retry(submission: Submission, account: Account) -> int:
    """Send the failed letters again with new credentials: the same letter ids (so the same Message-IDs),
    queued afresh; each one's failure is taken out of the totals in the same transaction that queues it,
    so every letter is counted once, in the status it ends with. Returns how many were queued; the caller commits
    (the letters and the new credentials' place together), then `queue`s."""
    letters = retryable(submission)
    if not letters:
        raise SubmissionInvalid({"retry": [gettext("Nothing here is waiting to be sent again.")]})
    check_account(account)
    if isinstance(account, OAuthAccount) and account.email.lower() != submission.supporter_email.lower():
        raise SubmissionInvalid(
            {
                "retry": [
                    gettext(
                        "You signed in as %(account)s, but these letters are from %(sender)s. "
                        "Sign in with %(sender)s to send them.",
                        account=account.email,
                        sender=submission.supporter_email,
                    )
                ]
            }  # fmt: skip
        )
    queued = outbox.resend(letters)  # in this transaction: committed with the credentials below, or not at all
    if not queued:
        db.session.rollback()
        raise SubmissionInvalid({"retry": [gettext("Nothing here is waiting to be sent again.")]})
    submission.smtp_host = _where(account)
    submission.smtp_port = account.port if isinstance(account, SmtpAccount) else None
    try:
        credentials.store(submission.id, account)
    except RedisError:
        db.session.rollback()
        raise
    log.info("submission.retried submission=%s letters=%d", submission.id, queued)
    return queued


CWC_ADDRESS_NEEDED = _l(
    "Congress's system needs your full postal address: offices accept letters only from the people they "
    "represent, and answer by mail."
)
CWC_NOT_BUILT = _l(
    "We couldn't prepare this letter in the form Congress's system requires. You can send it through their "
    "contact form or as a printed letter instead."
)


def _check_postal(postal: PostalAddress | None, targets: list[Target]) -> None:
    """The address a CWC letter needs: given, and in the state or district of every member it goes to."""
    if postal is None:
        raise SubmissionInvalid({"postal": [str(CWC_ADDRESS_NEEDED)]})
    problems = cwc_address.seat_problems(postal, targets)
    if problems:
        raise SubmissionInvalid({f"postal.{field}": messages for field, messages in problems.items()})


def _check_cwc_messages(
    campaign: Campaign, template: LetterTemplate, supporter: Supporter, postal: PostalAddress, letters: list[Letter]
) -> None:
    """Build each letter's CWC message now and check it against the grammar, so a letter that could never be
    delivered is refused while the supporter is still here; the worker checks again right before sending."""
    constituent = cwc.constituent(postal, supporter.email)
    campaign_id = cwc.campaign_id(campaign.slug)
    for letter in letters:
        built = cwc.letter_for(
            letter.id, letter.recipient or "", campaign_id, letter.subject, tuple(template.cwc_topics), letter.body
        )
        try:
            cwc.checked_message(constituent, built)
        except cwc.MessageError:
            raise SubmissionInvalid({"letters": [str(CWC_NOT_BUILT)]}) from None


# Where a letter Congress's system refused can still go, by hand, in the order the status page offers them.
FALLBACK_CHANNELS = (CONTACT_FORM, PRINT)


def send_another_way(letter: Letter, channel: str, postal: PostalAddress | None = None) -> Submission:
    """The same letter, as the supporter approved it, after Congress's system refused it or gave up: through
    `channel` (their contact form or a printed letter: a new hand-off), or through CWC again with the corrected
    address `postal`. A new submission, counted on its own; the refused letter stays `failed`. Raises
    SubmissionInvalid when it can't be (not a failed CWC letter, the data erased, an address outside the seat).
    The caller commits, then `queue`s."""
    submission = letter.submission
    if letter.channel != CWC or letter.status != FAILED:
        raise SubmissionInvalid(
            {"letter": [gettext("Only a letter Congress's system did not take can be sent another way.")]}
        )
    if submission.purged_at is not None or not submission.supporter_email:
        raise SubmissionInvalid(
            {
                "letter": [
                    gettext("Your details were deleted as promised, so this letter can't be sent again from here.")
                ]
            }
        )
    if channel not in (*FALLBACK_CHANNELS, CWC):
        raise SubmissionInvalid(
            {"channel": [gettext("Choose their contact form, a printed letter, or a corrected address.")]}
        )
    supporter = Supporter(
        name=submission.supporter_name,
        email=submission.supporter_email,
        zip=postal.zip if channel == CWC and postal else submission.supporter_zip,
        address="" if channel == CWC else submission.supporter_address,
        note=submission.supporter_note,
    )
    edits = {letter.target_id: (letter.subject, letter.body)}
    order = Order(submission.template.slug, (letter.target_id,), channel, supporter, edits=edits, postal=postal)
    return send(submission.campaign, order)


def find_submission(submission_id: str) -> Submission | None:
    """The submission with its campaign and letters (and their targets) loaded up front."""
    if not submission_id or len(submission_id) > 64:
        return None
    return db.session.get(
        Submission,
        submission_id,
        options=[joinedload(Submission.campaign), selectinload(Submission.letters).joinedload(Letter.target)],
    )


def find_letter(letter_id: str) -> Letter | None:
    if not letter_id or len(letter_id) > 64:
        return None
    return db.session.get(Letter, letter_id)


def confirm(letter: Letter, outcome: str) -> bool:
    """Record what the supporter says happened after a hand-off, once; True if this call recorded it."""
    allowed = OUTCOMES.get(letter.channel, ())
    if outcome not in allowed:
        if not allowed:
            raise SubmissionInvalid(
                {"outcome": [gettext("Letters sent from your own email are counted when your server accepts them.")]}
            )
        raise SubmissionInvalid({"outcome": [gettext("Use one of: %(outcomes)s.", outcomes=", ".join(allowed))]})
    return outbox.confirm(letter, outcome)


def letter_view(letter: Letter) -> dict[str, Any]:
    """A letter as the API and the status page show it (never any credential)."""
    view: dict[str, Any] = {
        "id": letter.id,
        "target": {"id": letter.target.id, "name": letter.target.name, "display_name": letter.target.display_name},
        "channel": letter.channel,
        "status": letter.status,
        "language": letter.submission.language if letter.submission else "en",
        "subject": letter.subject,
        "body": letter.body,
        "personal_share": letter.personal_share,
    }
    target = letter.target
    if letter.channel == MAILTO and letter.recipient:
        links = hand_off(letter.recipient, letter.subject, letter.body)
        view.update(
            mailto_url=links.mailto_url,
            mailto_complete=links.complete,
            gmail_url=links.gmail_url,
            outlook_url=links.outlook_url,
            recipient=letter.recipient,
        )
    elif letter.channel == CONTACT_FORM:
        view["contact_url"] = target.contact_url
    elif letter.channel == CALL:
        view["phone"] = target.phone
        view["phone_url"] = tel_uri(target.phone) if target.phone else None
        view["offices"] = [
            {"label": office.label, "phone": office.phone, "phone_url": tel_uri(office.phone)}
            for office in (congress.district_offices(target.id) if target.is_legislator else [])
            if office.phone
        ]
    elif letter.channel == PRINT:
        view["print_url"] = url_for("letters.print_letter", letter_id=letter.id, _external=True)
    elif letter.channel == CWC:
        view["office"] = letter.recipient  # the member's CWC office code
        if letter.status == FAILED and target.contact_url:
            view["contact_url"] = target.contact_url  # where the supporter can still send it by hand
    if letter.channel in OUTCOMES:
        view["outcome"] = letter.outcome
        view["outcomes"] = list(OUTCOMES[letter.channel])
    # The reasons are kept in English (the worker that writes them has no reader); shown in the reader's language.
    if letter.error and letter.status == FAILED:
        view["error"] = reasons.translate(letter.error)
    elif letter.error and letter.status == QUEUED:
        view["waiting"] = reasons.translate(letter.error)  # the temporary problem that the next try should get past
    return view


def submission_view(submission: Submission) -> dict[str, Any]:
    letters = sorted(submission.letters, key=lambda letter: letter.position)
    return {
        "id": submission.id,
        "status_url": url_for("letters.status", submission_id=submission.id, _external=True),
        "campaign": submission.campaign.slug,
        "channel": submission.channel,
        "language": submission.language or "en",
        "done": all(letter.terminal for letter in letters),
        "purged": submission.purged_at is not None,
        "letters": [letter_view(letter) for letter in letters],
    }
