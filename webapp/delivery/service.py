"""The delivery engine: one conversation per submission, each phase under a deadline, the lease kept while it
progresses, every outcome recorded through the outbox.

    claim (outbox) ─▶ open the transport ─▶ for each letter: renew the lease if it would run out during the
    next phase ─▶ send ─▶ finish / defer (outbox) ─▶ close

Deadlines (SMTP_TIMEOUT seconds per phase: connecting and signing in; each letter; a few seconds to say
goodbye) bound the whole conversation, so a worker thread is never held longer than
(1 + letters) × SMTP_TIMEOUT by any mail server however slow or hostile, and a lease of DELIVERY_SEND_LEASE
seconds, renewed between phases, outlives every phase: while the worker makes progress no sweep hands the
letters to another worker, and when it dies they are taken back once the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from webapp import outbox
from webapp.delivery import credentials, oauth, ssrf
from webapp.delivery.cwc import CwcTransport
from webapp.delivery.deadline import WATCHDOG_GRACE
from webapp.delivery.smtp import DeliveryError
from webapp.delivery.transport import Session, Transport, account_transport
from webapp.extensions import db
from webapp.models import CWC, FAILED, QUEUED, SENDING, SENT, Letter, Submission, utcnow
from webapp.outbox import Claimed

log = logging.getLogger(__name__)

EXPIRED = (
    "For your safety we keep your mail password for only a short time, and it ran out before "
    "this letter could go. Please send again."
)

# Saying goodbye (QUIT) gets this long at most; the letters' outcome is already recorded by then.
CLOSE_SECONDS = 5.0


class RetryLater(Exception):
    """Some letters hit a temporary problem and are queued again; try after `countdown` seconds."""

    def __init__(self, countdown: float, reason: str):
        super().__init__(f"retry in {countdown:.1f}s: {reason}")
        self.countdown = countdown


# How early a retry may run before its letters come due and still be re-run for them (timers are not exact);
# any other delivery task that finds nothing due is a duplicate and ends quietly.
EARLY_TOLERANCE = 1.0

# Claims beyond the retry schedule: an unexpected error (a bug, a crash) keeps re-queueing a letter.
EXTRA_CLAIMS = 3


def deliver_submission(submission_id: str) -> None:
    """Send what is due for this submission in one conversation with the supporter's mail server.

    Raises RetryLater when some letters must wait; every other outcome is already recorded. Any other
    exception (the database or Redis unreachable) leaves the claimed letters to their lease: when it
    runs out the sweeper queues them again.
    """
    leased_until = utcnow() + dt.timedelta(seconds=current_app.config["DELIVERY_SEND_LEASE"])  # or later
    letters = outbox.claim(submission_id)
    if not letters:
        # Nothing due: a duplicate task, a retry that came early, or a submission that is gone.
        countdown = _forget_or_next_due(submission_id)
        if countdown is not None and countdown < EARLY_TOLERANCE:
            # A retry whose timer fired a moment before its letters came due: look again right after.
            raise RetryLater(countdown + 0.05, "not due yet")
        return
    letters = _without_overclaimed(letters)
    if letters:
        # Letters to Congress through CWC go over its API; the rest through the supporter's own account.
        transport = CwcTransport(submission_id) if letters[0].channel == CWC else account_transport(submission_id)
        if transport is None:
            reason = _expired_reason(submission_id)
            for letter in letters:
                outbox.finish(letter, FAILED, reason, cause="credentials_expired", kind="expired")
        else:
            converse(transport, letters, leased_until)
    countdown = _forget_or_next_due(submission_id)
    if countdown is not None:
        raise RetryLater(countdown, "temporary failure")


def _without_overclaimed(letters: list[Claimed]) -> list[Claimed]:
    """Fail the letters claimed far more often than the retry schedule allows (each claim is one try)."""
    most = len(current_app.config["DELIVERY_RETRY_DELAYS"]) + 1 + EXTRA_CLAIMS
    for letter in letters:
        if letter.attempts > most:
            outbox.finish(
                letter,
                FAILED,
                "We couldn't send this letter after many tries. Please send it again.",
                cause="too_many_claims",
                kind="other",
            )
    return [letter for letter in letters if letter.attempts <= most]


def converse(transport: Transport, letters: Sequence[Claimed], leased_until: dt.datetime) -> None:
    """One conversation: open, send each letter, close; each phase within SMTP_TIMEOUT seconds."""
    config = current_app.config
    phase = float(config["SMTP_TIMEOUT"])
    submission_id = letters[0].submission_id
    try:
        session: Session = transport.open(phase)
    except ssrf.RefusedHost as exc:
        for letter in letters:
            outbox.finish(letter, FAILED, str(exc), cause="host_refused", kind="host")
        return
    except DeliveryError as exc:
        log.info(
            "smtp.connect_failed submission=%s transient=%s code=%s kind=%s",
            submission_id, exc.transient, exc.code, exc.kind or "-",
        )  # fmt: skip
        if exc.transient:
            outbox.defer(letters, exc.reason, code=exc.code, kind=exc.kind)
        else:
            for letter in letters:
                outbox.finish(
                    letter, FAILED, exc.reason, cause=f"smtp code={exc.code} kind={exc.kind or '-'}", kind=exc.kind
                )
        return
    try:
        for done, letter in enumerate(letters):
            remaining = letters[done:]
            leased_until = _keep_lease(remaining, leased_until, phase)
            try:
                session.send(letter, phase)
            except DeliveryError as exc:
                if exc.transient:
                    # The conversation is no longer trustworthy: this letter and the rest wait for a retry.
                    outbox.defer(remaining, exc.reason, code=exc.code, kind=exc.kind)
                    return
                outbox.finish(
                    letter, FAILED, exc.reason, cause=f"smtp code={exc.code} kind={exc.kind or '-'}", kind=exc.kind
                )
            else:
                outbox.finish(letter, SENT)
    finally:
        session.close(CLOSE_SECONDS)


def _keep_lease(remaining: Sequence[Claimed], leased_until: dt.datetime, phase: float) -> dt.datetime:
    """Renew the letters' lease when it could run out before the next phase's deadline (and the watchdog's
    grace) has passed: a worker that is making progress keeps its letters; one that stopped loses them."""
    needed = dt.timedelta(seconds=phase + WATCHDOG_GRACE + 1.0)
    if leased_until - utcnow() >= needed:
        return leased_until
    return outbox.renew(remaining)


def _expired_reason(submission_id: str) -> str:
    """Why a letter whose credentials are gone failed: the password's time ran out, or the sign-in's."""
    where = db.session.scalar(select(Submission.smtp_host).where(Submission.id == submission_id)) or ""
    provider = oauth.signed_in_provider(where)
    return oauth.sign_in_again(provider) if provider else EXPIRED


def _forget_or_next_due(submission_id: str) -> float | None:
    """Delete the credentials once nothing of this submission waits for the mail server; otherwise return
    the seconds until its next letter waiting for a retry comes due (None if none waits for one).

    Asked after every run, so that no waiting letter is left without a task to pick it up: not one
    deferred in this run, nor one whose retry falls later than this run's claim. One query for both.
    """
    count, due = outbox.pending(submission_id)
    if count:
        return due
    try:
        credentials.forget(submission_id)
    except RedisError as exc:
        # The letters' outcome is recorded; forget_finished_credentials() deletes the password later.
        log.warning("credentials.forget_failed submission=%s error=%s", submission_id, type(exc).__name__)
    return None


def forget_finished_credentials(batch: int = 1000) -> int:
    """Delete passwords still in Redis for submissions with nothing left to send (a delete lost to a
    Redis outage, a worker killed at the wrong moment). Returns how many were deleted.

    Every stored password is looked at, `batch` submissions to a query, so a backlog of waiting ones never
    hides the finished ones behind it. Only submissions already in the database count: their letters were
    committed in the same transaction, so a submission being written right now is never mistaken for a
    finished one.
    """
    stored = credentials.stored_submission_ids()
    forgotten = 0
    for start in range(0, len(stored), batch):
        chunk = stored[start : start + batch]
        finished = set(db.session.scalars(select(Submission.id).where(Submission.id.in_(chunk))))
        finished -= set(
            db.session.scalars(
                select(Letter.submission_id).where(
                    Letter.submission_id.in_(finished), Letter.status.in_((QUEUED, SENDING))
                )
            )
        )
        credentials.forget(*finished)
        for submission_id in finished:
            log.info("credentials.forgotten submission=%s", submission_id)
        forgotten += len(finished)
    db.session.commit()  # nothing was written (the passwords live in Redis): this ends the task's read transaction
    return forgotten
