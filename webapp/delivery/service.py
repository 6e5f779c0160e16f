"""Delivering a submission's letters through the supporter's own mail server, and sweeping the outbox."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError

from webapp.delivery import credentials, smtp, ssrf
from webapp.delivery.smtp import DeliveryError, OutgoingLetter
from webapp.extensions import db
from webapp.models import FAILED, QUEUED, SENDING, SENT, SMTP, Letter, Submission, Target, utcnow
from webapp.totals import service as totals

log = logging.getLogger(__name__)
T = TypeVar("T")

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


# How long a worker keeps trying to record what already happened at the mail server while the database
# is unreachable (a restart, a failover). Giving up would leave a letter that went out to be sent again.
RECORD_RETRY_SECONDS = 30.0


def database_unreachable(exc: BaseException) -> bool:
    """A database error that another try, a moment later, may not meet: lost connection, server restarting."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _recorded(write: Callable[[], T], what: str, letter_id: str) -> T:
    """Run `write` and commit it; while the database is unreachable, roll back and try again for up to
    RECORD_RETRY_SECONDS. `write` must be safe to repeat (every write here is a conditional UPDATE)."""
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    pause = 0.1
    while True:
        try:
            result = write()
            db.session.commit()
            return result
        except DBAPIError as exc:
            db.session.rollback()
            if not database_unreachable(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database.retry what=%s letter=%s error=%s", what, letter_id, type(exc.orig).__name__)
            time.sleep(pause)  # a backoff while the database comes back, not a wait for anything else
            pause = min(pause * 2, 2.0)


@dataclass(frozen=True)
class Claimed:
    """A claimed letter's facts, read once at claim time, so that sending it and recording the outcome need
    nothing more from the database (a restart mid-batch then costs no extra reads, and no sends).

    It carries the attributes totals.bump() reads, so it is counted exactly as a Letter would be.
    """

    id: str
    submission_id: str
    claim_token: str
    attempts: int
    campaign_id: int
    target_id: str
    template_id: int
    channel: str
    outgoing: OutgoingLetter


# The statements of every delivery, built once on the tables (not the ORM classes) with bound parameters:
# building a statement costs several times what executing it does, and the ORM's bulk-UPDATE path adds as
# much again. Each is the same SQL as before, on SQLite and PostgreSQL alike.
_letters, _targets, _submissions = Letter.__table__, Target.__table__, Submission.__table__

_CLAIM = (
    update(_letters)
    .where(
        _letters.c.submission_id == bindparam("b_submission"),
        _letters.c.channel == SMTP,
        or_(
            and_(
                _letters.c.status == QUEUED,
                or_(_letters.c.next_attempt_at.is_(None), _letters.c.next_attempt_at <= bindparam("b_now")),
            ),
            and_(_letters.c.status == SENDING, _letters.c.lease_until < bindparam("b_now")),
        ),
    )
    .values(
        status=SENDING,
        claim_token=bindparam("b_token"),
        lease_until=bindparam("b_lease"),
        attempts=_letters.c.attempts + 1,
    )
)

# Everything sending and recording a claimed letter needs, the target's name and the sender included, in one read.
_CLAIMED = (
    select(
        _letters.c.id,
        _letters.c.submission_id,
        _letters.c.claim_token,
        _letters.c.attempts,
        _letters.c.campaign_id,
        _letters.c.target_id,
        _letters.c.template_id,
        _letters.c.channel,
        _letters.c.recipient,
        _letters.c.subject,
        _letters.c.body,
        _targets.c.name.label("recipient_name"),
        _submissions.c.supporter_name,
        _submissions.c.supporter_email,
    )
    # Outer joins, as the ORM's joinedload was: a letter is never hidden from the batch that claimed it.
    .outerjoin_from(_letters, _targets, _letters.c.target_id == _targets.c.id)
    .outerjoin(_submissions, _letters.c.submission_id == _submissions.c.id)
    .where(_letters.c.claim_token == bindparam("b_token"), _letters.c.status == SENDING)
    .order_by(_letters.c.position)
)

_FINISH = (
    update(_letters)
    .where(
        _letters.c.id == bindparam("b_id"),
        _letters.c.claim_token == bindparam("b_token"),
        _letters.c.status == SENDING,
    )
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        finished_at=bindparam("b_now"),
        lease_until=None,
        next_attempt_at=None,
    )
)

_RECORDED = select(_letters.c.id).where(
    _letters.c.id == bindparam("b_id"),
    _letters.c.claim_token == bindparam("b_token"),
    _letters.c.status == bindparam("b_status"),
)

_PENDING = select(func.count(), func.min(case((_letters.c.status == QUEUED, _letters.c.next_attempt_at)))).where(
    _letters.c.submission_id == bindparam("b_submission"), _letters.c.status.in_((QUEUED, SENDING))
)


def claim(submission_id: str) -> list[Claimed]:
    """Take the submission's due SMTP letters with one conditional UPDATE; only this caller gets them."""
    config = current_app.config
    token, now = uuid.uuid4().hex, utcnow()
    db.session.execute(
        _CLAIM,
        {
            "b_submission": submission_id,
            "b_now": now,
            "b_token": token,
            "b_lease": now + _seconds(config["DELIVERY_SEND_LEASE"]),
        },
    )
    db.session.commit()
    domain = config.get("MESSAGE_ID_DOMAIN")
    return [_claimed(row, domain) for row in db.session.execute(_CLAIMED, {"b_token": token})]


def _finish(letter: Claimed, status: str, error: str | None = None, *, cause: str = "") -> bool:
    """Record a terminal status and its count in one transaction, if this claim still holds the letter."""
    now = utcnow()
    params = {"b_id": letter.id, "b_token": letter.claim_token, "b_status": status, "b_error": error, "b_now": now}

    def write() -> bool:
        if db.session.execute(_FINISH, params).rowcount:
            totals.bump(db.session, letter, status, now)
            return True
        # A commit whose answer was lost with the connection may have gone through: then it is recorded.
        return db.session.execute(_RECORDED, params).first() is not None

    recorded = _recorded(write, f"letter.{status}", letter.id)
    if recorded:
        log.info(
            "letter.%s submission=%s letter=%s attempt=%d%s",
            status, letter.submission_id, letter.id, letter.attempts, f" cause={cause}" if cause else "",
        )  # fmt: skip
    else:
        log.warning("letter.lost_claim submission=%s letter=%s", letter.submission_id, letter.id)
    return recorded


def _retry_delay(attempts: int, jitter: float) -> float | None:
    """Seconds before the next try after `attempts` tries, or None when the schedule is used up."""
    delays = current_app.config["DELIVERY_RETRY_DELAYS"]
    if attempts > len(delays):
        return None
    return float(delays[attempts - 1]) * jitter


def _defer(letters: list[Claimed], error: DeliveryError) -> None:
    """Queue letters again after a temporary failure; those out of retries fail."""
    config = current_app.config
    # One clock reading and one draw for the whole batch: its letters come due at the same instant, are
    # claimed together, and go out over one connection again.
    jitter = 1 + random.uniform(0, config["DELIVERY_RETRY_JITTER"])
    now = utcnow()
    for letter in letters:
        delay = _retry_delay(letter.attempts, jitter)
        if delay is None:
            first_sentence = error.reason.split(";")[0].rstrip(".")
            _finish(
                letter,
                FAILED,
                f"{first_sentence}. We tried {letter.attempts} times and gave up; please send again later.",
                cause=f"retries_used_up code={error.code}",
            )
            continue

        def write(letter: Claimed = letter, delay: float = delay) -> None:
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

        _recorded(write, "letter.retry", letter.id)
        log.info(
            "letter.retry submission=%s letter=%s attempt=%d in=%.1fs code=%s",
            letter.submission_id, letter.id, letter.attempts, delay, error.code,
        )  # fmt: skip


def _claimed(row: Row, message_id_domain: str | None) -> Claimed:
    return Claimed(
        id=row.id,
        submission_id=row.submission_id,
        claim_token=row.claim_token or "",
        attempts=row.attempts,
        campaign_id=row.campaign_id,
        target_id=row.target_id,
        template_id=row.template_id,
        channel=row.channel,
        outgoing=OutgoingLetter(
            letter_id=row.id,
            sender_name=row.supporter_name,
            sender_email=row.supporter_email,
            recipient=row.recipient or "",
            recipient_name=row.recipient_name,
            subject=row.subject,
            body=row.body,
            message_id_domain=message_id_domain,
        ),
    )


@dataclass
class _Batch:
    """The letters of one claim, and how far through them we are."""

    submission_id: str
    letters: list[Claimed]
    leased_at: dt.datetime
    done: int = 0

    @property
    def remaining(self) -> list[Claimed]:
        return self.letters[self.done :]


def _extend_lease(letters: list[Claimed]) -> None:
    """Keep the rest of a long batch ours, so the sweeper does not hand it to another worker."""
    lease = utcnow() + _seconds(current_app.config["DELIVERY_SEND_LEASE"])

    def write() -> None:
        db.session.execute(
            update(Letter)
            .where(Letter.id.in_([letter.id for letter in letters]), Letter.status == SENDING)
            .where(Letter.claim_token == letters[0].claim_token)
            .values(lease_until=lease)
            .execution_options(synchronize_session=False)
        )

    _recorded(write, "lease.extend", letters[0].id)


def deliver_submission(submission_id: str) -> None:
    """Send what is due for this submission over one connection.

    Raises RetryLater when some letters must wait; every other outcome is already recorded. Any other
    exception (the database or Redis unreachable) leaves the claimed letters to their lease: when it
    runs out the sweeper queues them again.
    """
    leased_at = utcnow()
    letters = claim(submission_id)
    if not letters:
        # Nothing due: a duplicate task, a retry that came early, or a submission that is gone.
        countdown = _forget_or_next_due(submission_id)
        if countdown is not None and countdown < EARLY_TOLERANCE:
            # A retry whose timer fired a moment before its letters came due: look again right after.
            raise RetryLater(countdown + 0.05, "not due yet")
        return
    _deliver(_Batch(submission_id, letters, leased_at))
    countdown = _forget_or_next_due(submission_id)
    if countdown is not None:
        raise RetryLater(countdown, "temporary failure")


# How early a retry may run before its letters come due and still be re-run for them (timers are not exact);
# any other delivery task that finds nothing due is a duplicate and ends quietly.
EARLY_TOLERANCE = 1.0


# Claims beyond the retry schedule: an unexpected error (a bug, a crash) keeps re-queueing a letter.
EXTRA_CLAIMS = 3


def _deliver(batch: _Batch) -> None:
    config = current_app.config
    submission_id = batch.submission_id
    most = len(config["DELIVERY_RETRY_DELAYS"]) + 1 + EXTRA_CLAIMS
    for letter in [letter for letter in batch.letters if letter.attempts > most]:
        _finish(
            letter,
            FAILED,
            "We couldn't send this letter after many tries. Please send it again.",
            cause="too_many_claims",
        )
        batch.letters.remove(letter)
    if not batch.letters:
        return
    account = credentials.load(submission_id)
    if account is None:
        for letter in batch.letters:
            _finish(letter, FAILED, EXPIRED, cause="credentials_expired")
        return
    try:
        checked = ssrf.check(
            account.host, account.port, config["SMTP_ALLOWED_HOSTS"], tuple(config["SMTP_ALLOWED_PORTS"])
        )
        connection = smtp.connect(account, checked, timeout=config["SMTP_TIMEOUT"], ca_file=config.get("SMTP_CA_FILE"))
    except ssrf.RefusedHost as exc:
        for letter in batch.letters:
            _finish(letter, FAILED, str(exc), cause="host_refused")
        return
    except DeliveryError as exc:
        log.info("smtp.connect_failed submission=%s transient=%s code=%s", submission_id, exc.transient, exc.code)
        if exc.transient:
            _defer(batch.letters, exc)
            return
        for letter in batch.letters:
            _finish(letter, FAILED, exc.reason, cause=f"smtp code={exc.code}")
        return
    del account  # the password is not needed past login
    # Counted from the claim: connecting and logging in may already have used part of the lease.
    lease_checked = batch.leased_at
    try:
        for letter in batch.letters:
            if (utcnow() - lease_checked).total_seconds() > config["DELIVERY_SEND_LEASE"] / 3:
                _extend_lease(batch.remaining)
                lease_checked = utcnow()
            try:
                smtp.send(connection, letter.outgoing)
            except DeliveryError as exc:
                if exc.transient:
                    # The connection is no longer trustworthy: this and the rest wait for a retry.
                    _defer(batch.remaining, exc)
                    return
                _finish(letter, FAILED, exc.reason, cause=f"smtp code={exc.code}")
            else:
                _finish(letter, SENT)
            batch.done += 1
    finally:
        smtp.close(connection)


def _forget_or_next_due(submission_id: str) -> float | None:
    """Delete the credentials once nothing of this submission waits for the mail server; otherwise return
    the seconds until its next letter waiting for a retry comes due (None if none waits for one).

    Asked after every run, so that no waiting letter is left without a task to pick it up: not one
    deferred in this run, nor one whose retry falls later than this run's claim. One query for both.
    """
    pending, due = db.session.execute(_PENDING, {"b_submission": submission_id}).one()
    if pending:
        return None if due is None else max(0.0, (due - utcnow()).total_seconds())
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
    return forgotten


# While delivery messages wait in the broker, a queued letter past its lease is most likely still in
# that backlog, not lost: it gets this many more leases before it is queued a second time. Without
# this, a backlog longer than the lease makes the sweeper queue every waiting letter again and again.
BACKLOG_GRACE_LEASES = 3


def sweep_outbox(limit: int = 1000, *, backlog: int = 0) -> list[str]:
    """Submissions whose letters outlived their lease (lost task, killed worker, flushed broker).

    `backlog` is how many delivery messages the broker still holds. A letter some worker claimed
    and let expire is always taken back; a letter still waiting to be claimed is, while there is a
    backlog, given BACKLOG_GRACE_LEASES more leases first. Swept letters get a fresh lease so the
    next sweep does not queue them again; the caller queues a delivery task for each id returned.
    """
    config = current_app.config
    now = utcnow()
    queue_lease = _seconds(config["DELIVERY_QUEUE_LEASE"])
    waiting_since = now - queue_lease * BACKLOG_GRACE_LEASES if backlog else now
    expired = and_(
        Letter.channel == SMTP,
        or_(
            and_(Letter.status == SENDING, Letter.lease_until < now),
            and_(Letter.status == QUEUED, Letter.lease_until < waiting_since),
        ),
    )
    _count, submission_ids = _put_back(expired, limit=limit)
    if submission_ids:
        log.info("outbox.swept submissions=%d backlog=%d", len(submission_ids), backlog)
    return submission_ids


def requeue(older_than: float = 0.0, *, include_sending: bool = False) -> tuple[int, list[str]]:
    """Put waiting SMTP letters written at least `older_than` seconds ago back in line now, retry waits
    skipped; returns how many letters, and the submissions to queue a delivery task for.

    A letter some worker holds under a live lease is left alone unless `include_sending`: taking it
    back while the worker is still talking to the mail server could send it twice.
    """
    now = utcnow()
    held = Letter.status == SENDING
    if not include_sending:
        held = and_(held, Letter.lease_until < now)
    waiting = and_(
        Letter.channel == SMTP,
        Letter.created_at <= now - _seconds(older_than),
        or_(Letter.status == QUEUED, held),
    )
    count, submission_ids = _put_back(waiting, next_attempt_at=None)
    if submission_ids:
        log.info(
            "outbox.requeued letters=%d submissions=%d include_sending=%s", count, len(submission_ids), include_sending
        )
    return count, submission_ids


def _put_back(condition, *, limit: int | None = None, **values) -> tuple[int, list[str]]:
    """Queue the letters matching `condition` again (those of at most `limit` submissions), unclaimed, under a
    fresh queue lease, with `values` besides; commits. Returns how many letters, and their submissions."""
    query = select(Letter.submission_id).where(condition).distinct()
    submission_ids = list(db.session.scalars(query if limit is None else query.limit(limit)))
    if not submission_ids:
        return 0, []
    lease = utcnow() + _seconds(current_app.config["DELIVERY_QUEUE_LEASE"])
    count = db.session.execute(
        update(Letter)
        .where(condition, Letter.submission_id.in_(submission_ids))
        .values(status=QUEUED, claim_token=None, lease_until=lease, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count, submission_ids
