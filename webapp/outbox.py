"""Every change of a letter's status, each committed with its count in one transaction: the outbox's state machine.

    insert ──▶ queued ──claim──▶ sending ──finish──▶ sent | failed        (own email: a worker's conversation)
           └─▶ handed_off ──confirm──▶ (confirmed: counted once)        (hand-offs: counted when written)
    sending ──defer──▶ queued (retry later) or failed (retries used up)
    sending/queued past their lease ──sweep / requeue──▶ queued (unclaimed)
    queued ──cancel──▶ failed (the supporter asked us to erase their data)
    sending ──defer or claim, its submission erased──▶ failed (cancelled: its text is gone, nothing to send again)
    failed ──resend──▶ queued (the supporter sends it again from the status page; its failure no longer counted)

A claim is a conditional UPDATE that stamps a fresh token: only its holder can finish, defer or renew those
letters, so two workers never both record one letter. `sent`, `failed` and `handed_off` are terminal, and each
is counted (webapp/totals) in the transaction that reaches it. This module sits below the feature packages:
letters/ (insert, confirm, enqueue, resend), delivery/ (claim, renew, finish, defer), privacy/ (cancel) and the
sweeper all call it, and none of them changes a letter's status any other way.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy import Insert, Table, and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import make_transient_to_detached

from webapp.extensions import db
from webapp.models import (
    CONFIRMED,
    DELIVERED_CHANNELS,
    FAILED,
    HANDED_OFF,
    OUTCOMES,
    QUEUED,
    SENDING,
    SENT,
    SMTP,
    Letter,
    Submission,
    Target,
    utcnow,
)
from webapp.totals import service as totals

log = logging.getLogger(__name__)
T = TypeVar("T")

SEND_TASK = "tasks.delivery.send_submission"

# Shown for a letter that was still waiting when its supporter asked us to delete their data.
CANCELLED = "Not sent: you asked us to delete your data before this letter went out."


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


# ---- writing the outbox ----------------------------------------------------------------------------------------


def insert_submission(submission: Submission, letters: list[Letter], now: dt.datetime) -> None:
    """INSERT the submission and its letters, and count the hand-offs among them, in the caller's transaction
    (the caller commits: the rows and their counts land together or not at all). Then put the objects in the
    session as the rows they now are (persistent, nothing left to flush).

    Two prebuilt INSERTs: the ORM's unit of work would cost several times as much on the path every supporter takes.
    """
    db.session.execute(_insert(Submission.__table__), _row(submission))
    db.session.execute(_insert(Letter.__table__), [_row(letter) for letter in letters])
    for letter in letters:
        if letter.status == HANDED_OFF:
            totals.bump(db.session, letter, HANDED_OFF, now)
    for obj in (submission, *letters):
        make_transient_to_detached(obj)
    db.session.add(submission)  # and its letters, by cascade


@functools.cache
def _insert(table: Table) -> Insert:
    return insert(table)


def _row(obj: Submission | Letter) -> dict[str, Any]:
    """Every column's value as the INSERT writes it. A column left unset gets its constant default (on the
    object too, so the object matches its row) or NULL; the caller sets ids and times itself."""
    row = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
            setattr(obj, column.key, value)
        row[column.key] = value
    return row


def enqueue(submission_id: str) -> bool:
    """Ask a worker to deliver; False when the broker could not be reached, which only delays delivery until the
    sweeper finds the letters (their lease runs out)."""
    try:
        current_app.extensions["celery"].send_task(SEND_TASK, args=[submission_id])
    except (KombuError, RedisError, OSError) as exc:
        log.warning("submission.enqueue_failed submission=%s error=%s", submission_id, type(exc).__name__)
        return False
    return True


def confirm(letter: Letter, outcome: str) -> bool:
    """Record once what the supporter says happened after a hand-off, counted as `confirmed`, in the caller's
    transaction (the caller commits: the outcome and its count together); True if this call recorded it. The caller
    has checked that `outcome` is one the letter's channel allows (OUTCOMES)."""
    if outcome not in OUTCOMES.get(letter.channel, ()):
        raise ValueError(f"{outcome!r} is not an outcome of a {letter.channel} letter")
    now = utcnow()
    changed = db.session.execute(
        update(Letter)
        .where(Letter.id == letter.id, Letter.status == HANDED_OFF, Letter.outcome.is_(None))
        .values(outcome=outcome, confirmed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        totals.bump(db.session, letter, CONFIRMED, now)
    db.session.refresh(letter)
    if changed:
        log.info("letter.confirmed submission=%s letter=%s outcome=%s", letter.submission_id, letter.id, outcome)
    return bool(changed)


# ---- recording what a worker did, through database outages -----------------------------------------------------

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


# ---- claiming and finishing (the worker's side) ----------------------------------------------------------------


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
    recipient: str
    recipient_name: str
    subject: str
    body: str
    sender_name: str
    sender_email: str


# The statements of every delivery, built once on the tables (not the ORM classes) with bound parameters:
# building a statement costs several times what executing it does, and the ORM's bulk-UPDATE path adds as
# much again. Each is the same SQL on SQLite and PostgreSQL.
_letters, _targets, _submissions = Letter.__table__, Target.__table__, Submission.__table__

_CLAIM = (
    update(_letters)
    .where(
        _letters.c.submission_id == bindparam("b_submission"),
        _letters.c.channel.in_(DELIVERED_CHANNELS),
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
        _submissions.c.purged_at,
    )
    # Outer joins: a letter is never hidden from the batch that claimed it.
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
        failure_kind=bindparam("b_kind"),
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
    """Take the submission's due own-email letters with one conditional UPDATE, under a lease of
    DELIVERY_SEND_LEASE seconds; only this caller gets them. Ends its transaction: the caller holds no
    database connection while it talks to the mail server."""
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
    rows = list(db.session.execute(_CLAIMED, {"b_token": token}))
    db.session.commit()
    claimed = []
    for row in rows:
        if row.purged_at is None:
            claimed.append(_claimed(row))
        else:  # erased while a worker that has since died held it: its text is gone, there is nothing to send
            _cancel_erased(_claimed(row))
    return claimed


def _cancel_erased(letter: Claimed) -> None:
    """A claimed letter whose supporter had their data erased: failed as CANCELLED (counted), never sent blank."""
    finish(letter, FAILED, CANCELLED, cause="erased", kind="cancelled")


def _claimed(row: Row) -> Claimed:
    return Claimed(
        id=row.id,
        submission_id=row.submission_id,
        claim_token=row.claim_token or "",
        attempts=row.attempts,
        campaign_id=row.campaign_id,
        target_id=row.target_id,
        template_id=row.template_id,
        channel=row.channel,
        recipient=row.recipient or "",
        recipient_name=row.recipient_name or "",
        subject=row.subject,
        body=row.body,
        sender_name=row.supporter_name or "",
        sender_email=row.supporter_email or "",
    )


def renew(letters: Sequence[Claimed]) -> dt.datetime:
    """Extend the lease of letters this claim still holds to DELIVERY_SEND_LEASE seconds from now, so that while
    the conversation makes progress no sweep hands them to another worker. Returns the new lease's end."""
    lease = utcnow() + _seconds(current_app.config["DELIVERY_SEND_LEASE"])

    def write() -> None:
        db.session.execute(
            update(Letter)
            .where(Letter.id.in_([letter.id for letter in letters]), Letter.status == SENDING)
            .where(Letter.claim_token == letters[0].claim_token)
            .values(lease_until=lease)
            .execution_options(synchronize_session=False)
        )

    if letters:
        _recorded(write, "lease.renew", letters[0].id)
    return lease


def finish(letter: Claimed, status: str, error: str | None = None, *, cause: str = "", kind: str = "") -> bool:
    """Record `sent` or `failed` and its count in one transaction, if this claim still holds the letter. A
    failure keeps its `kind` (whose problem it was: models.NOT_THE_TARGETS)."""
    if status not in (SENT, FAILED):
        raise ValueError(f"a delivery finishes as sent or failed, not {status!r}")
    now = utcnow()
    params = {
        "b_id": letter.id,
        "b_token": letter.claim_token,
        "b_status": status,
        "b_error": error,
        "b_kind": (kind or "other") if status == FAILED else None,
        "b_now": now,
    }

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


def retry_delay(attempts: int, jitter: float = 1.0) -> float | None:
    """Seconds before the next try after `attempts` tries, or None when the schedule is used up."""
    delays = current_app.config["DELIVERY_RETRY_DELAYS"]
    if attempts > len(delays):
        return None
    return float(delays[attempts - 1]) * jitter


def defer(letters: Sequence[Claimed], reason: str, *, code: int | None = None, kind: str = "") -> None:
    """Queue letters again after a temporary failure, `reason` shown meanwhile; those out of retries fail
    (with `kind`, whose problem it was)."""
    config = current_app.config
    # One clock reading and one draw for the whole batch: its letters come due at the same instant, are
    # claimed together, and go out over one connection again.
    jitter = 1 + random.uniform(0, config["DELIVERY_RETRY_JITTER"])
    now = utcnow()
    for letter in letters:
        delay = retry_delay(letter.attempts, jitter)
        if delay is None:
            first_sentence = reason.split(";")[0].rstrip(".")
            finish(
                letter,
                FAILED,
                f"{first_sentence}. We tried {letter.attempts} times and gave up; please send again later.",
                cause=f"retries_used_up code={code}",
                kind=kind,
            )
            continue

        def write(letter: Claimed = letter, delay: float = delay) -> int:
            return db.session.execute(
                update(Letter)
                .where(Letter.id == letter.id, Letter.claim_token == letter.claim_token, Letter.status == SENDING)
                .where(~exists().where(Submission.id == Letter.submission_id, Submission.purged_at.is_not(None)))
                .values(
                    status=QUEUED,
                    claim_token=None,
                    error=reason,
                    next_attempt_at=now + _seconds(delay),
                    lease_until=now + _seconds(delay + config["DELIVERY_QUEUE_LEASE"]),
                )
                .execution_options(synchronize_session=False)
            ).rowcount

        if not _recorded(write, "letter.retry", letter.id):
            _cancel_erased(letter)  # or the claim was lost to a sweep: then finish() finds nothing to record
            continue
        log.info(
            "letter.retry submission=%s letter=%s attempt=%d in=%.1fs code=%s",
            letter.submission_id, letter.id, letter.attempts, delay, code,
        )  # fmt: skip


def pending(submission_id: str) -> tuple[int, float | None]:
    """How many of the submission's letters are not finished, and the seconds until the next one waiting for a
    retry comes due (None if none waits for one). Ends its transaction."""
    count, due = db.session.execute(_PENDING, {"b_submission": submission_id}).one()
    db.session.commit()
    return count, None if due is None else max(0.0, (due - utcnow()).total_seconds())


# ---- taking letters back: the sweeper and `flask letters requeue` ---------------------------------------------

# While delivery messages wait in the broker, a queued letter past its lease is most likely still in
# that backlog, not lost: it gets this many more leases before it is queued a second time. Without
# this, a backlog longer than the lease makes the sweeper queue every waiting letter again and again.
BACKLOG_GRACE_LEASES = 3


def sweep(limit: int = 1000, *, backlog: int = 0) -> list[str]:
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
        Letter.channel.in_(DELIVERED_CHANNELS),
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
    """Put waiting own-email letters written at least `older_than` seconds ago back in line now, retry waits
    skipped; returns how many letters, and the submissions to queue a delivery task for.

    A letter some worker holds under a live lease is left alone unless `include_sending`: taking it
    back while the worker is still talking to the mail server could send it twice.
    """
    now = utcnow()
    held = Letter.status == SENDING
    if not include_sending:
        held = and_(held, Letter.lease_until < now)
    waiting = and_(
        Letter.channel.in_(DELIVERED_CHANNELS),
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
        db.session.commit()
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


# ---- sending a failed letter again (the status page) -----------------------------------------------------------


def resend(letters: Iterable[Letter]) -> int:
    """Queue failed own-email letters again, as they are (same ids, so the same Message-IDs), with a fresh
    retry schedule; each one's failure is taken back from the totals in the same transaction, so a letter is
    counted once, in the status it ends with. Does not commit: the caller stores the new credentials and
    commits both, or neither. Returns how many were queued (a letter no longer failed is left alone)."""
    now = utcnow()
    lease = now + _seconds(current_app.config["DELIVERY_QUEUE_LEASE"])
    queued = 0
    for letter in letters:
        changed = db.session.execute(
            update(Letter)
            .where(Letter.id == letter.id, Letter.channel == SMTP, Letter.status == FAILED)
            .values(
                status=QUEUED,
                error=None,
                failure_kind=None,
                attempts=0,
                claim_token=None,
                next_attempt_at=None,
                lease_until=lease,
                finished_at=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            totals.take_back(db.session, letter, FAILED, letter.finished_at or now)
            queued += 1
    return queued


# ---- cancelling (erasure on request) ---------------------------------------------------------------------------


def cancel_waiting(submission_ids: Iterable[str], now: dt.datetime | None = None) -> int:
    """Stop the submissions' letters that are still queued: failed, counted as failed, with CANCELLED as the
    reason; commits. A letter a worker is handing to the mail server at this moment keeps its claim and finishes
    as it will: sent (and counted) if the server took it; cancelled if it is deferred or its worker dies
    (_cancel_erased). Returns how many were cancelled."""
    now = now or utcnow()
    ids = list(submission_ids)
    waiting = list(db.session.scalars(select(Letter).where(Letter.submission_id.in_(ids), Letter.status == QUEUED)))
    cancelled = 0
    for letter in waiting:
        changed = db.session.execute(
            update(Letter)
            .where(Letter.id == letter.id, Letter.status == QUEUED)
            .values(
                status=FAILED,
                error=CANCELLED,
                failure_kind="cancelled",
                finished_at=now,
                lease_until=None,
                next_attempt_at=None,
                claim_token=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            totals.bump(db.session, letter, FAILED, now)
            cancelled += 1
    db.session.commit()
    return cancelled
