"""The submission use case: an Order from any path becomes letters in the outbox (choose the letter and the targets,
check the mail account, draft once, write), and failed letters are sent again, or another way."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError

from webapp import outbox
from webapp.campaigns.service import active_templates
from webapp.core import validation
from webapp.cwc import address as cwc_address
from webapp.cwc import service as cwc
from webapp.cwc.address import PostalAddress
from webapp.delivery import credentials
from webapp.delivery.credentials import Account, OAuthAccount, SmtpAccount
from webapp.extensions import db
from webapp.i18n import gettext
from webapp.i18n import lazy_gettext as _l
from webapp.letters.choosing import CampaignClosed, choose, ensure_open
from webapp.letters.drafting import Draft, Supporter, check_language, default_language, draft_letters
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.letters.mail_account import check_account, origin
from webapp.models import (
    CALL,
    CONTACT_FORM,
    CWC,
    DELIVERED_CHANNELS,
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
        smtp_host=origin(account),
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


def queue(submission: Submission) -> bool:
    """Ask a worker to deliver the submission's letters, once the caller has committed them (hand-offs wait for
    nobody). False when the broker was out of reach: that only delays them, since the sweeper finds them when
    their lease runs out, but the supporter is told so."""
    if submission.channel in DELIVERED_CHANNELS:
        return outbox.enqueue(submission.id)
    return True


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
    submission.smtp_host = origin(account)
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


LETTER_RETIRED = _l(
    "The organizers no longer offer this letter, so it can't be sent again from here. Its status page still shows "
    "it: you can copy it and send it yourself."
)


# Where a letter that failed can still go, by hand, in the order the status page offers them: each only where the
# letter's target takes it (`LetterTemplate.channels_for`, which every hand-off obeys).
ANOTHER_WAYS = (MAILTO, CONTACT_FORM, PRINT)


def _current_template(submission: Submission) -> LetterTemplate | None:
    """The letter the submission was written from, while the organizers still offer it."""
    return next((t for t in active_templates(submission.campaign) if t.id == submission.template_id), None)


def ways_out(letter: Letter) -> tuple[list[str], str | None]:
    """Where a failed letter (own email, or Congress's system) may still go by hand, and why nowhere when it can't.

    The ways are those its target really has, as the letter allows them (`LetterTemplate.channels_for`, which every
    hand-off obeys); a printed letter only with the supporter's address to sign it with. None, with the reason, once
    its data is erased, the campaign closed or the letter retired. A letter that did not fail: none, no reason."""
    submission = letter.submission
    if letter.status != FAILED or letter.channel not in (SMTP, CWC):
        return [], None
    if submission.purged_at is not None or not submission.supporter_email:
        return [], gettext("Your details were deleted as promised, so this letter can't be sent again from here.")
    if submission.campaign.closed_at is not None:
        return [], str(CampaignClosed(submission.campaign).errors["campaign"][0])
    template = _current_template(submission)
    if template is None:
        return [], str(LETTER_RETIRED)
    offered = template.channels_for(letter.target)
    ways = [
        channel for channel in ANOTHER_WAYS if channel in offered and (channel != PRINT or submission.supporter_address)
    ]
    return ways, None


def send_another_way(letter: Letter, channel: str, postal: PostalAddress | None = None) -> Submission:
    """The same letter, as the supporter approved it and in its language, after it failed (their own mail server
    refused it, or Congress's system did): as a hand-off through `channel` (their mail app, the contact form or a
    printed letter), or, for a letter to Congress, through CWC again with the corrected address `postal`. A new
    submission, counted on its own; the failed letter stays `failed`. Raises SubmissionInvalid when it can't be (not
    a failed letter, the data erased, the letter retired since, a way the target doesn't have, an address outside the
    seat). The caller commits, then `queue`s."""
    submission = letter.submission
    if letter.channel not in (SMTP, CWC) or letter.status != FAILED:
        raise SubmissionInvalid({"letter": [gettext("Only a letter that was not sent can be sent another way.")]})
    _ways, closed = ways_out(letter)
    if closed is not None:
        raise SubmissionInvalid({"letter": [closed]})
    if channel not in (*ANOTHER_WAYS, *((CWC,) if letter.channel == CWC else ())):
        raise SubmissionInvalid({"channel": [gettext("Choose your mail app, their contact form or a printed letter.")]})
    supporter = Supporter(
        name=submission.supporter_name,
        email=submission.supporter_email,
        zip=postal.zip if channel == CWC and postal else submission.supporter_zip,
        address="" if channel == CWC else submission.supporter_address,
        note=submission.supporter_note,
    )
    edits = {letter.target_id: (letter.subject, letter.body)}
    # In the letter's own language: the status page labels it so, and the share of the supporter's own words is
    # measured against the template it was written from (the letter's default, should that version be gone since).
    language = submission.language
    order = Order(
        submission.template.slug,
        (letter.target_id,),
        channel,
        supporter,
        edits=edits,
        postal=postal,
        language=language,
        reader=language,
    )
    try:
        # `choose` checks the way against the target's record, as every hand-off is checked.
        return send(submission.campaign, order)
    except NotFound:
        # The letter exists; what it was written from is gone since (the organizers retired the letter or removed
        # the person): every way out says so, instead of failing as if the request had named nothing.
        raise SubmissionInvalid({"letter": [str(LETTER_RETIRED)]}) from None


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
