"""Delivering a submission's letters through the supporter's own mail server, and sweeping the outbox."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, or_, select, update

from webapp.delivery import credentials, smtp, ssrf
from webapp.delivery.smtp import DeliveryError, OutgoingLetter
from webapp.extensions import db
from webapp.models import FAILED, QUEUED, SENDING, SENT, SMTP, Letter, Submission, utcnow
from webapp.totals import service as totals

log = logging.getLogger(__name__)

EXPIRED = (
    "For your safety we keep your mail password for only a short time, and it ran out before "
    "this letter could go. Please send again."
)


class RetryLater(Exception):
    """Some letters hit a temporary problem and are queued again; try after `countdown` seconds."""

    def __init__(self, countdown: float, reason: str):
        super().__init__(f"retry in {countdown:.1f}s: {reason}")
        self.countdown = countdown


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def claim(submission_id: str) -> list[Letter]:
    """Take the submission's due SMTP letters with one conditional UPDATE; only this caller gets them."""
    config = current_app.config
    token, now = uuid.uuid4().hex, utcnow()
    db.session.execute(
        update(Letter)
        .where(
            Letter.submission_id == submission_id,
            Letter.channel == SMTP,
            or_(
                and_(
                    Letter.status == QUEUED,
                    or_(Letter.next_attempt_at.is_(None), Letter.next_attempt_at <= now),
                ),
                and_(Letter.status == SENDING, Letter.lease_until < now),
            ),
        )
        .values(
            status=SENDING,
            claim_token=token,
            lease_until=now + _seconds(config["DELIVERY_SEND_LEASE"]),
            attempts=Letter.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(Letter)
            .where(Letter.claim_token == token, Letter.status == SENDING)
            .order_by(Letter.position)
        )
    )


def _finish(letter: Letter, status: str, error: str | None = None) -> bool:
    """Record a terminal status and its count in one transaction, if this claim still holds the letter."""
    now = utcnow()
    changed = db.session.execute(
        update(Letter)
        .where(Letter.id == letter.id, Letter.claim_token == letter.claim_token, Letter.status == SENDING)
        .values(status=status, error=error, finished_at=now, lease_until=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        totals.bump(db.session, letter, status, now)
    db.session.commit()
    if changed:
        log.info("letter.%s submission=%s letter=%s attempt=%d", status, letter.submission_id, letter.id, letter.attempts)
    else:
        log.warning("letter.lost_claim submission=%s letter=%s", letter.submission_id, letter.id)
    return bool(changed)


def _retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after `attempts` tries, or None when the schedule is used up."""
    config = current_app.config
    delays = config["DELIVERY_RETRY_DELAYS"]
    if attempts > len(delays):
        return None
    delay = float(delays[attempts - 1])
    return delay * (1 + random.uniform(0, config["DELIVERY_RETRY_JITTER"]))


def _defer(letters: list[Letter], error: DeliveryError) -> float | None:
    """Queue letters again after a temporary failure; those out of retries fail. Returns the countdown."""
    config = current_app.config
    countdown = None
    for letter in letters:
        delay = _retry_delay(letter.attempts)
        if delay is None:
            first_sentence = error.reason.split(";")[0].rstrip(".")
            _finish(
                letter,
                FAILED,
                f"{first_sentence}. We tried {letter.attempts} times and gave up; please send again later.",
            )
            continue
        now = utcnow()
        db.session.execute(
            update(Letter)
            .where(Letter.id == letter.id, Letter.claim_token == letter.claim_token, Letter.status == SENDING)
            .values(
                status=QUEUED,
                claim_token=None,
                error=error.reason,
                next_attempt_at=now + _seconds(delay),
                lease_until=now + _seconds(delay + config["DELIVERY_QUEUE_LEASE"]),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        log.info(
            "letter.retry submission=%s letter=%s attempt=%d in=%.1fs code=%s",
            letter.submission_id, letter.id, letter.attempts, delay, error.code,
        )
        countdown = delay if countdown is None else min(countdown, delay)
    return countdown


def _outgoing(letter: Letter, submission: Submission) -> OutgoingLetter:
    return OutgoingLetter(
        letter_id=letter.id,
        sender_name=submission.supporter_name,
        sender_email=submission.supporter_email,
        recipient=letter.recipient or "",
        recipient_name=letter.target.name,
        subject=letter.subject,
        body=letter.body,
        message_id_domain=current_app.config.get("MESSAGE_ID_DOMAIN"),
    )


@dataclass
class _Batch:
    """The letters of one claim, and how far through them we are."""

    submission: Submission
    letters: list[Letter]
    done: int = 0

    @property
    def remaining(self) -> list[Letter]:
        return self.letters[self.done :]


def _extend_lease(letters: list[Letter]) -> None:
    """Keep the rest of a long batch ours, so the sweeper does not hand it to another worker."""
    lease = utcnow() + _seconds(current_app.config["DELIVERY_SEND_LEASE"])
    db.session.execute(
        update(Letter)
        .where(Letter.id.in_([letter.id for letter in letters]), Letter.status == SENDING)
        .where(Letter.claim_token == letters[0].claim_token)
        .values(lease_until=lease)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_submission(submission_id: str) -> None:
    """Send what is due for this submission over one connection.

    Raises RetryLater when some letters must wait; every other outcome is already recorded.
    """
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        log.warning("submission.unknown submission=%s", submission_id)
        return
    letters = claim(submission_id)
    if not letters:
        _forget_if_done(submission_id)
        return
    batch = _Batch(submission, letters)
    countdown = None
    try:
        countdown = _deliver(batch)
    finally:
        _forget_if_done(submission_id)
    if countdown is not None:
        raise RetryLater(countdown, "temporary failure")


# Claims beyond the retry schedule: an unexpected error (a bug, a crash) keeps re-queueing a letter.
EXTRA_CLAIMS = 3


def _deliver(batch: _Batch) -> float | None:
    config = current_app.config
    submission_id = batch.submission.id
    most = len(config["DELIVERY_RETRY_DELAYS"]) + 1 + EXTRA_CLAIMS
    for letter in [letter for letter in batch.letters if letter.attempts > most]:
        _finish(letter, FAILED, "We couldn't send this letter after many tries. Please send it again.")
        batch.letters.remove(letter)
    if not batch.letters:
        return None
    account = credentials.load(submission_id)
    if account is None:
        for letter in batch.letters:
            _finish(letter, FAILED, EXPIRED)
        return None
    try:
        checked = ssrf.check(
            account.host, account.port, config["SMTP_ALLOWED_HOSTS"], tuple(config["SMTP_ALLOWED_PORTS"])
        )
        connection = smtp.connect(
            account, checked, timeout=config["SMTP_TIMEOUT"], ca_file=config.get("SMTP_CA_FILE")
        )
    except ssrf.RefusedHost as exc:
        for letter in batch.letters:
            _finish(letter, FAILED, str(exc))
        return None
    except DeliveryError as exc:
        log.info("smtp.connect_failed submission=%s transient=%s code=%s", submission_id, exc.transient, exc.code)
        if exc.transient:
            return _defer(batch.letters, exc)
        for letter in batch.letters:
            _finish(letter, FAILED, exc.reason)
        return None
    del account  # the password is not needed past login
    lease_checked = utcnow()
    try:
        for letter in batch.letters:
            if (utcnow() - lease_checked).total_seconds() > config["DELIVERY_SEND_LEASE"] / 3:
                _extend_lease(batch.remaining)
                lease_checked = utcnow()
            try:
                smtp.send(connection, _outgoing(letter, batch.submission))
            except DeliveryError as exc:
                if exc.transient:
                    # The connection is no longer trustworthy: this and the rest wait for a retry.
                    return _defer(batch.remaining, exc)
                _finish(letter, FAILED, exc.reason)
            else:
                _finish(letter, SENT)
            batch.done += 1
    finally:
        smtp.close(connection)
    return None


def _forget_if_done(submission_id: str) -> None:
    """Delete the credentials once nothing of this submission waits for the mail server."""
    pending = db.session.scalar(
        select(Letter.id)
        .where(Letter.submission_id == submission_id, Letter.status.in_((QUEUED, SENDING)))
        .limit(1)
    )
    if pending is None:
        credentials.forget(submission_id)


def sweep_outbox(limit: int = 1000) -> list[str]:
    """Submissions whose letters outlived their lease (lost task, killed worker, flushed broker).

    Their letters get a fresh lease so the next sweep does not send them again; the caller queues
    a delivery task for each id returned.
    """
    config = current_app.config
    now = utcnow()
    expired = and_(
        Letter.channel == SMTP,
        Letter.status.in_((QUEUED, SENDING)),
        Letter.lease_until < now,
    )
    submission_ids = list(
        db.session.scalars(select(Letter.submission_id).where(expired).distinct().limit(limit))
    )
    if not submission_ids:
        return []
    db.session.execute(
        update(Letter)
        .where(expired, Letter.submission_id.in_(submission_ids))
        .values(
            status=QUEUED,
            claim_token=None,
            lease_until=now + _seconds(config["DELIVERY_QUEUE_LEASE"]),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("outbox.swept submissions=%d", len(submission_ids))
    return submission_ids
