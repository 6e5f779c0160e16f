"""Erasing supporters' personal data: the retention purge, "forget this email", and "delete my data now".

What is erased from a submission: the supporter's name, email address, ZIP code, postal address and
note, their mail server's host and port, and from each of its letters the subject and body (both may
hold the supporter's own words or name), error text and delivery bookkeeping. Every time stamp is cut
to its day. What stays: the counts (letter_tallies), and per letter the campaign, target, template and
version, channel, status, outcome and day, so totals and exports are unchanged. The encrypted mail password
in Redis, if any is left, is deleted too, and on request so are sign-ins with Google or Microsoft still
waiting at the provider (they hold what the supporter typed).

A letter a worker is handing to the mail server at that moment keeps the worker's claim: if it goes out it is
recorded and counted as sent; if the server says "later", or the worker dies, it is cancelled rather than sent
again with its text erased (webapp/outbox.py).

On SQLite the database runs with `secure_delete` on (webapp/extensions.py), so erased text is
overwritten in the file, and the write-ahead log is checkpointed and truncated after each erasure and at the
end of every purge run (whatever it erased), so no older copy of a page survives there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exists, func, select
from sqlalchemy.orm import selectinload

from webapp import outbox
from webapp.core import validation
from webapp.delivery import credentials
from webapp.extensions import db
from webapp.i18n import gettext, ngettext
from webapp.mailauth import service as mailauth
from webapp.models import PENDING, SENDING, Letter, Submission, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    """What an erasure touched (or, for a dry run, would touch)."""

    submissions: int = 0
    letters: int = 0
    cancelled: int = 0  # letters still waiting that were stopped (forget only)
    sign_ins: int = 0  # sign-ins with Google or Microsoft still at the provider, deleted (forget only)


def _day(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value.date(), dt.time())


def _erase(submissions: Sequence[Submission], now: dt.datetime) -> int:
    """Blank the personal fields of these submissions and their letters (not committed). Returns letters."""
    letters = 0
    for submission in submissions:
        submission.supporter_name = ""
        submission.supporter_email = ""
        submission.supporter_zip = ""
        submission.supporter_address = ""
        submission.constituent = None  # the address a letter to Congress through CWC carried
        submission.supporter_note = ""
        submission.smtp_host = None
        submission.smtp_port = None
        submission.created_at = _day(submission.created_at)
        submission.purged_at = _day(now)
        for letter in submission.letters:
            letter.subject = ""
            letter.body = ""
            if letter.error != outbox.CANCELLED:
                letter.error = None
            if letter.status != SENDING:  # a worker holding it records what its mail server answered (outbox.py)
                letter.claim_token = None
            letter.next_attempt_at = None
            if letter.status not in PENDING:
                letter.lease_until = None
            letter.created_at = _day(letter.created_at)
            letter.finished_at = _day(letter.finished_at)
            letter.confirmed_at = _day(letter.confirmed_at)
            letters += 1
    return letters


def flush_storage() -> None:
    """Make erased text unrecoverable from the database files (SQLite: checkpoint and truncate the WAL)."""
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL: autovacuum reclaims the old row versions; see docs/security.md
    for _attempt in range(20):
        with db.engine.connect() as connection:
            busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if not busy:
            return
        time.sleep(0.05)  # a reader holds an old snapshot; it ends within a request or a task
    log.warning("privacy.checkpoint_busy: erased text may stay in the SQLite write-ahead log until the next purge")


# ---- retention purge ----------------------------------------------------------------------------------------


def cutoff(now: dt.datetime | None = None, days: int | None = None) -> dt.datetime:
    days = current_app.config["RETENTION_DAYS"] if days is None else days
    return (now or utcnow()) - dt.timedelta(days=int(days))


def _expired(before: dt.datetime):
    """Submissions older than `before`, not yet erased, whose letters have all finished."""
    pending = exists().where(Letter.submission_id == Submission.id, Letter.status.in_(PENDING))
    return (Submission.purged_at.is_(None), Submission.created_at < before, ~pending)


def purge(
    *, dry_run: bool = False, now: dt.datetime | None = None, days: int | None = None, batch: int = 500
) -> Erased:
    """Erase the personal data of finished submissions older than RETENTION_DAYS (or `days`).

    With `dry_run`, only count what would be erased. Letters still queued or sending are left alone
    until they finish; the next purge takes them.
    """
    now = now or utcnow()
    before = cutoff(now, days)
    conditions = _expired(before)
    if dry_run:
        ids = select(Submission.id).where(*conditions)
        submissions = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
        letters = db.session.scalar(select(func.count(Letter.id)).where(Letter.submission_id.in_(ids))) or 0
        return Erased(submissions, letters)
    total = Erased()
    # The backlog is looked for once: asking again for every batch walked the old submissions each time, the ones
    # already erased included, so the work grew faster than the backlog (tests/test_privacy.py measures it).
    backlog = list(db.session.scalars(select(Submission.id).where(*conditions).order_by(Submission.id)))
    for start in range(0, len(backlog), batch):
        # Its conditions checked again by id, cheaply: a letter sent again meanwhile keeps its submission for now.
        chunk = list(
            db.session.scalars(
                select(Submission)
                .where(Submission.id.in_(backlog[start : start + batch]), *conditions)
                .options(selectinload(Submission.letters))
            )
        )
        if not chunk:
            continue
        letters = _erase(chunk, now)
        ids = [submission.id for submission in chunk]
        # Committed here, batch by batch, not by the caller: each batch's erasure is durable before its credentials
        # go and before the next batch is read, a purge of a large backlog holds no long transaction, and the WAL
        # checkpoint below can only clear text that committed erasures replaced.
        db.session.commit()
        credentials.forget(*ids)
        total = Erased(total.submissions + len(chunk), total.letters + letters)
    # Every run, even one that erased nothing: an earlier erasure's checkpoint may have found a reader in the way.
    flush_storage()
    log.info("privacy.purge submissions=%d letters=%d before=%s", total.submissions, total.letters, before.date())
    return total


# ---- erasure on request -------------------------------------------------------------------------------------


def _forget(submission_ids: list[str]) -> Erased:
    if not submission_ids:
        return Erased()
    now = utcnow()
    credentials.forget(*submission_ids)  # first: no worker can log in for these any more
    sign_ins = mailauth.forget(submission_ids=submission_ids)  # nor a sign-in still at the provider
    cancelled = outbox.cancel_waiting(submission_ids, now)  # counted as failed, committed
    db.session.expire_all()
    submissions = list(
        db.session.scalars(
            select(Submission).where(Submission.id.in_(submission_ids)).options(selectinload(Submission.letters))
        )
    )
    letters = _erase(submissions, now)
    db.session.commit()  # here, not by the caller: the checkpoint below clears only text a committed erasure replaced
    flush_storage()
    log.info("privacy.forget submissions=%d letters=%d cancelled=%d", len(submissions), letters, cancelled)
    return Erased(len(submissions), letters, cancelled, sign_ins)


def normalized_email(email: str) -> str:
    """The address as submissions store it (email-validator's normalized form), lower-cased for matching."""
    try:
        return validation.email(email).lower()
    except validation.FieldError:
        return email.strip().lower()


def forget_email(email: str) -> Erased:
    """Right to erasure: erase every submission made with this email address, now, whatever its age.

    Matching ignores case. Letters still queued are cancelled (failed, counted as failed); counts stay.
    """
    wanted = normalized_email(email)
    if not wanted:
        return Erased()
    # Letters still waiting for their sign-in at the provider: their send form holds everything typed.
    sign_ins = mailauth.forget(email=wanted)
    ids = list(
        db.session.scalars(
            select(Submission.id).where(
                func.lower(Submission.supporter_email) == wanted, Submission.purged_at.is_(None)
            )
        )
    )
    erased = _forget(ids)
    return dataclasses.replace(erased, sign_ins=erased.sign_ins + sign_ins)


def forget_submission(submission_id: str) -> bool:
    """ "Delete my data now" on the status page: erase this one submission at once. Letters still queued
    are cancelled. True if there was such a submission (erasing twice is harmless and still True)."""
    if not submission_id or len(submission_id) > 64:
        return False
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        return False
    if submission.purged_at is None:
        _forget([submission.id])
    return True


# ---- what supporters are told -------------------------------------------------------------------------------


def retention_notice(days: int | None = None) -> str:
    """The sentence the preview page shows before sending: what is kept, and for how long, in the page's language."""
    days = current_app.config["RETENTION_DAYS"] if days is None else int(days)
    if days == 0:
        kept = gettext(
            "We keep your name, email address, ZIP code, postal address, note and the letter itself until your "
            "letters are on their way, and then erase them;"
        )
    else:
        kept = ngettext(
            "We keep your name, email address, ZIP code, postal address, note and the letter itself for one day "
            "so you can follow your letters, and then erase them;",
            "We keep your name, email address, ZIP code, postal address, note and the letter itself for %(num)d "
            "days so you can follow your letters, and then erase them;",
            days,
        )
    rest = gettext(
        "only the count stays (who was written to, with which letter, how, and on which day). If you send from "
        "your own email, your mail password is kept encrypted only until your letters are sent, an hour at most. "
        "We never store your IP address, and you can delete your data sooner from the status page."
    )
    return f"{kept} {rest}"
