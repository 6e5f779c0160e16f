"""Privacy by default: the retention purge, `flask privacy purge --dry-run`, `flask privacy forget EMAIL`,
"delete my data now", and proof that after a purge no personal field survives in the database files,
in Redis (and its append-only file) or in the logs."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import event, select, text, update
from sqlalchemy import inspect as sql_inspect

from tests.support.letters import LAUNCH
from tests.support.waiting import wait_for
from webapp import outbox
from webapp.delivery import credentials
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db, get_credentials_redis, get_redis
from webapp.models import FAILED, QUEUED, SENT, SMTP, Letter, LetterTally, Submission, utcnow
from webapp.outbox import CANCELLED
from webapp.privacy import service

API = "/api/v1/submissions"


def marked_supporter(tag: str | None = None) -> dict:
    """A supporter whose every field carries a unique marker, so any copy of it can be found."""
    tag = tag or secrets.token_hex(6)
    return {
        "name": f"Quinn Marker{tag}",
        "email": f"quinn.{tag}@example.org",
        "zip": "94110",
        "address": f"{tag} Marker Lane\nSan Francisco, CA 94110",
        "note": f"My own words {tag}, about my cousin's family.",
    }


def markers(supporter: dict) -> list[str]:
    tag = supporter["email"].split(".")[1].split("@")[0]
    return [supporter["name"], supporter["email"], f"{tag} Marker Lane", supporter["note"], tag]


def submit(client, supporter, **extra) -> str:
    payload = {
        "campaign": LAUNCH,
        "template": "un-human-rights-office",
        "targets": ["ohchr"],
        "supporter": supporter,
        "channel": "mailto",
        **extra,
    }
    response = client.post(API, json=payload)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def age(submission_id: str, days: float) -> None:
    """Move a submission and its letters `days` into the past."""
    then = utcnow() - dt.timedelta(days=days)
    db.session.execute(update(Submission).where(Submission.id == submission_id).values(created_at=then))
    db.session.execute(
        update(Letter).where(Letter.submission_id == submission_id).values(created_at=then, finished_at=then)
    )
    db.session.commit()


def tallies() -> list[tuple]:
    return sorted(
        db.session.execute(
            select(
                LetterTally.target_id,
                LetterTally.channel,
                LetterTally.day,
                LetterTally.sent,
                LetterTally.handed_off,
                LetterTally.failed,
            )
        ).all()
    )


def assert_erased(submission_id: str) -> None:
    db.session.expire_all()
    submission = db.session.get(Submission, submission_id)
    assert submission.purged_at is not None
    assert (submission.supporter_name, submission.supporter_email, submission.supporter_zip) == ("", "", "")
    assert (submission.supporter_address, submission.supporter_note) == ("", "")
    assert submission.smtp_host is None and submission.smtp_port is None
    assert submission.created_at.time() == dt.time()  # only the day is kept
    for letter in submission.letters:
        assert (letter.subject, letter.body) == ("", "")
        assert letter.created_at.time() == dt.time()
        assert letter.finished_at is None or letter.finished_at.time() == dt.time()
        # What the counts need stays.
        assert letter.target_id and letter.template_id and letter.channel and letter.status


# ---- the retention purge ----------------------------------------------------------------------------------------


def test_purge_erases_old_finished_submissions_and_keeps_the_counts(client, ctx):
    old, recent = marked_supporter(), marked_supporter()
    old_id, recent_id = submit(client, old), submit(client, recent)
    age(old_id, 31)
    age(recent_id, 29)
    counts = tallies()
    before = db.session.get(Letter, db.session.get(Submission, old_id).letters[0].id)
    kept = (before.target_id, before.template_id, before.channel, before.status, before.created_at.date())

    result = service.purge()

    assert (result.submissions, result.letters) == (1, 1)
    assert_erased(old_id)
    letter = db.session.get(Submission, old_id).letters[0]
    assert (letter.target_id, letter.template_id, letter.channel, letter.status, letter.created_at.date()) == kept
    assert db.session.get(Submission, recent_id).supporter_email == recent["email"]  # inside the window
    assert tallies() == counts
    assert client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]["handed_off"] == 2
    assert service.purge().submissions == 0  # nothing twice


def test_purge_waits_for_letters_still_on_their_way(client, ctx):
    submission_id = submit(client, marked_supporter())
    age(submission_id, 40)
    db.session.execute(update(Letter).where(Letter.submission_id == submission_id).values(status=QUEUED))
    db.session.commit()
    assert service.purge().submissions == 0
    db.session.execute(update(Letter).where(Letter.submission_id == submission_id).values(status=FAILED))
    db.session.commit()
    assert service.purge().submissions == 1


def test_retention_days_is_a_setting(client, app, ctx, monkeypatch):
    submission_id = submit(client, marked_supporter())
    age(submission_id, 3)
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 7)
    assert service.purge().submissions == 0
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 2)
    assert service.purge().submissions == 1


def test_purge_dry_run_shows_what_would_go_and_changes_nothing(client, runner, app):
    supporter = marked_supporter()
    with app.app_context():
        submission_id = submit(client, supporter)
        submit(client, marked_supporter())
        age(submission_id, 45)
    result = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would erase the personal data of 1 submission (1 letter)" in result.output
    assert "older than 30 days" in result.output and "Nothing was changed" in result.output
    with app.app_context():
        assert db.session.get(Submission, submission_id).supporter_email == supporter["email"]
    result = runner.invoke(args=["privacy", "purge"])
    assert "Erased the personal data of 1 submission (1 letter)" in result.output
    with app.app_context():
        assert_erased(submission_id)


def test_the_scheduler_runs_the_purge(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["purge-personal-data"]["task"] == "tasks.privacy.purge_expired"
    assert schedule["purge-personal-data"]["schedule"] == app.config["PURGE_INTERVAL"] <= 24 * 3600
    from tasks.privacy import purge_expired

    assert purge_expired.name == "tasks.privacy.purge_expired"


# ---- erasure on request ---------------------------------------------------------------------------------------


def queued_smtp_submission(supporter: dict) -> str:
    """A submission whose own-email letter is still waiting, with its password in Redis."""
    submission = Submission(
        campaign_id=db.session.scalar(text("SELECT id FROM campaigns WHERE slug = :s"), {"s": LAUNCH}),
        template_id=db.session.scalar(text("SELECT id FROM letter_templates WHERE slug = 'un-human-rights-office'")),
        channel=SMTP,
        supporter_name=supporter["name"],
        supporter_email=supporter["email"],
        supporter_zip=supporter["zip"],
        supporter_address=supporter["address"],
        supporter_note=supporter["note"],
        smtp_host="smtp.example.org",
        smtp_port=587,
    )
    later = utcnow() + dt.timedelta(hours=1)
    submission.letters = [
        Letter(
            campaign_id=submission.campaign_id,
            target_id="ohchr",
            template_id=submission.template_id,
            template_version=1,
            channel=SMTP,
            status=QUEUED,
            recipient="petitions@ohchr.org",
            subject=f"About {supporter['name']}",
            body=supporter["note"],
            next_attempt_at=later,
            lease_until=later,
        )
    ]
    db.session.add(submission)
    db.session.commit()
    credentials.store(
        submission.id,
        SmtpAccount("smtp.example.org", 587, "starttls", supporter["email"], "hunter2-" + supporter["name"]),
    )
    return submission.id


def test_forget_email_erases_everything_of_that_supporter_at_once(client, runner, app):
    supporter, other = marked_supporter(), marked_supporter()
    with app.app_context():
        handed_off = submit(client, supporter)
        waiting = queued_smtp_submission(supporter)
        untouched = submit(client, other)
        failed_before = sum(row[5] for row in tallies())
    result = runner.invoke(args=["privacy", "forget", supporter["email"].upper()])  # any case
    assert result.exit_code == 0, result.output
    assert "Erased the personal data of 2 submissions (2 letters)" in result.output
    assert "1 letter still waiting to be sent were cancelled" in result.output
    with app.app_context():
        assert_erased(handed_off)
        assert_erased(waiting)
        letter = db.session.get(Submission, waiting).letters[0]
        assert (letter.status, letter.error) == (FAILED, CANCELLED)
        assert sum(row[5] for row in tallies()) == failed_before + 1  # counted, as failed
        assert credentials.load(waiting) is None
        assert db.session.get(Submission, untouched).supporter_email == other["email"]
    again = runner.invoke(args=["privacy", "forget", supporter["email"]])
    assert "No personal data is stored for that email address" in again.output


def test_forget_submission_is_the_delete_my_data_button(client, ctx):
    supporter = marked_supporter()
    mine, also_mine = submit(client, supporter), submit(client, supporter)
    assert service.forget_submission(mine) is True
    assert_erased(mine)
    assert db.session.get(Submission, also_mine).supporter_email == supporter["email"]  # only that one
    assert service.forget_submission(mine) is True  # pressing twice is harmless
    assert service.forget_submission("no-such-submission") is False
    assert service.forget_submission("x" * 500) is False
    view = client.get(f"/api/v1/submissions/{mine}").get_json()  # the status stays readable
    assert view["letters"][0]["status"] == "handed_off" and view["letters"][0]["body"] == ""


def test_the_notice_says_what_is_kept_and_for_how_long(app, monkeypatch):
    with app.test_request_context("/"):
        notice = service.retention_notice()
        assert "for 30 days" in notice and "only the count stays" in notice and "never store your IP address" in notice
        assert "until your letters are on their way" in service.retention_notice(0)
        monkeypatch.setitem(app.config, "RETENTION_DAYS", 7)
        assert "for 7 days" in service.retention_notice()


# ---- nothing personal survives anywhere ------------------------------------------------------------------------


def sqlite_files(app) -> list[Path]:
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]


def database_text(app) -> bytes:
    """Every byte of the SQLite files; on PostgreSQL every text value in every table."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            return b"".join(path.read_bytes() for path in sqlite_files(app))
        chunks = []
        inspector = sql_inspect(db.engine)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                rows = db.session.execute(text(f'SELECT CAST("{column["name"]}" AS TEXT) FROM "{table}"'))  # noqa: S608
                chunks += [str(value).encode() for (value,) in rows if value is not None]
        return b"\n".join(chunks)


def redis_clients(app):
    return [get_redis(app), get_credentials_redis(app)]


def redis_text(app) -> bytes:
    """Every key and value in both Redis servers (the main one and the credentials one), read by type."""
    chunks = []
    for redis in redis_clients(app):
        for key in redis.scan_iter(count=1000):
            chunks.append(key)
            kind = redis.type(key)
            if kind == b"string":
                chunks.append(redis.get(key) or b"")
            elif kind == b"list":
                chunks += redis.lrange(key, 0, -1)
            elif kind == b"hash":
                for field, value in redis.hgetall(key).items():
                    chunks += [field, value]
            elif kind == b"set":
                chunks += list(redis.smembers(key))
            elif kind == b"zset":
                chunks += redis.zrange(key, 0, -1)
    return b"\n".join(chunks)


def files_on_disk(app, tmp_root: Path) -> list[Path]:
    """Every file the suite's instance could have written: everything under its temporary root (instance/, the
    embedded Redis, SQLite) and under each Redis server's own folder (CONFIG GET dir; CI's redis-server, the
    credentials server), wherever it is."""
    folders = {tmp_root}
    for redis in redis_clients(app):
        folders.add(Path(redis.config_get("dir")["dir"]))
    return sorted({path for folder in folders for path in folder.rglob("*") if path.is_file()})


FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_=-]{40,}")


def decryptable(app, data: bytes) -> list[bytes]:
    """Every Fernet token in `data` that the app's credentials key opens."""
    opened = []
    with app.app_context():
        fernet = credentials._fernet()
        for token in FERNET_TOKEN.findall(data):
            for end in range(len(token), 40, -1):  # a token may run into the bytes after it
                try:
                    opened.append(fernet.decrypt(token[:end]))
                    break
                except InvalidToken:
                    continue
    return opened


def test_after_a_purge_no_personal_field_survives_in_the_database_redis_or_logs(
    app, client, mail_server, celery_worker, tmp_root, log_records
):
    supporter = marked_supporter()
    secret_words = markers(supporter)
    password = mail_server.smtp_settings()["password"]
    own_email = submit(
        client,
        supporter,
        channel="smtp",
        smtp=mail_server.smtp_settings(),
        subject=f"Reunite them, from {supporter['name']}",
        body=f"{supporter['note']}\n\nSigned, {supporter['name']}",
    )
    hand_off = submit(client, supporter)
    with app.app_context():
        wait_for(
            lambda: db.session.get(Letter, db.session.get(Submission, own_email).letters[0].id).status == "sent",
            what="the own-email letter to be sent",
        )
        db.session.expire_all()
    assert len(mail_server.received) == 1  # it really went out, through Redis and a worker
    # Before: the data is there (so the checks below can see it when it is).
    assert supporter["email"].encode() in database_text(app)

    with app.app_context():
        assert service.purge(days=0).submissions == 2
        assert_erased(own_email)
        assert_erased(hand_off)

    time.sleep(1.5)  # an append-only file is written every second: let anything on its way reach the disk
    stored = database_text(app)
    cached = redis_text(app)
    on_disk = b"\n".join(path.read_bytes() for path in files_on_disk(app, tmp_root))
    logged = "\n".join(
        record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
        for record in log_records.records
        if not record.name.startswith("mail.log")  # the test's SMTP server, standing in for the supporter's own
    )
    for word in secret_words:
        assert word.encode() not in stored, f"{word!r} is still in the database"
        assert word.encode() not in cached, f"{word!r} is in Redis"
        assert word not in logged, f"{word!r} was logged"
    assert password.encode() not in cached
    assert password not in logged
    # Issue 12.3: the waiting password was encrypted into Redis; after delivery no file anywhere (the embedded
    # Redis's append-only file above all) holds it, or any ciphertext the key still opens.
    assert password.encode() not in on_disk
    assert decryptable(app, on_disk) == [], "a stored password can be decrypted from a file"


@pytest.mark.parametrize("days", [0, 1, 30, 365])
def test_the_window_is_counted_from_the_day_of_the_submission(days, app):
    now = dt.datetime(2026, 6, 30, 12, 0)
    with app.app_context():
        assert service.cutoff(now, days) == now - dt.timedelta(days=days)


def test_a_deleted_printed_letter_is_not_offered_for_printing_again(client, ctx):
    """After "delete my data", the printable letter's address leads to the status page that says it was deleted,
    not to a page 'ready to print' with an empty letter."""
    mine = submit(
        client,
        marked_supporter(),
        channel="print",
        template="general-dynamics-open-the-doors",
        targets=["general-dynamics-ceo"],
    )
    letter_id = db.session.get(Submission, mine).letters[0].id
    assert "Print this letter" in client.get(f"/l/{letter_id}/print").get_data(as_text=True)
    assert service.forget_submission(mine) is True
    page = client.get(f"/l/{letter_id}/print")
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/s/{mine}")
    status = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "You deleted your details and your letters' text" in status


# ---- erasure while a worker is delivering ------------------------------------------------------------------------


def claimed_letter(supporter: dict):
    """A worker's claim on a due own-email letter: it is talking to the mail server now."""
    submission_id = queued_smtp_submission(supporter)
    db.session.execute(update(Letter).where(Letter.submission_id == submission_id).values(next_attempt_at=None))
    db.session.commit()
    (claimed,) = outbox.claim(submission_id)
    return submission_id, claimed


def counted(status_column: str) -> int:
    return sum(getattr(row, status_column) for row in db.session.execute(select(LetterTally)).scalars())


def test_forgetting_a_supporter_mid_delivery_lets_the_worker_record_the_letter_it_sent(client, ctx):
    """The mail server answered 250 while the supporter pressed "delete my data": the letter went out, so it is
    recorded and counted as sent (before, the erasure took the worker's claim: 'lost claim', never counted, and
    later failed as 'expired')."""
    submission_id, claimed = claimed_letter(marked_supporter())
    sent_before = counted("sent")
    assert service.forget_submission(submission_id) is True
    assert_erased(submission_id)
    assert outbox.finish(claimed, SENT) is True
    db.session.expire_all()
    letter = db.session.get(Letter, claimed.id)
    assert letter.status == SENT and (letter.subject, letter.body) == ("", "")
    assert counted("sent") == sent_before + 1
    assert outbox.claim(submission_id) == []  # and no worker takes it again


def test_a_letter_deferred_after_its_supporter_was_forgotten_is_cancelled_not_requeued_blank(client, ctx):
    """The mail server said 'try later' after the erasure: the letter is not queued again (its text is gone), it
    is cancelled and counted as failed, once."""
    submission_id, claimed = claimed_letter(marked_supporter())
    failed_before = counted("failed")
    service.forget_submission(submission_id)
    outbox.defer([claimed], "The mail server is busy; we'll try again.", code=421, kind="busy")
    db.session.expire_all()
    letter = db.session.get(Letter, claimed.id)
    assert (letter.status, letter.error, letter.failure_kind) == (FAILED, CANCELLED, "cancelled")
    assert counted("failed") == failed_before + 1


def test_a_worker_that_died_mid_delivery_after_the_erasure_leaves_a_cancelled_letter_not_a_blank_send(client, ctx):
    """The worker was killed during the conversation and its lease ran out: the next claim must not send the
    erased (blank) letter; it is cancelled and counted as failed, once."""
    submission_id, claimed = claimed_letter(marked_supporter())
    failed_before = counted("failed")
    service.forget_submission(submission_id)
    past = utcnow() - dt.timedelta(minutes=5)
    db.session.execute(update(Letter).where(Letter.id == claimed.id).values(lease_until=past))
    db.session.commit()
    assert outbox.claim(submission_id) == []
    db.session.expire_all()
    letter = db.session.get(Letter, claimed.id)
    assert (letter.status, letter.error) == (FAILED, CANCELLED)
    assert counted("failed") == failed_before + 1


def test_every_purge_on_sqlite_ends_with_a_checkpoint_even_when_it_erased_nothing(app, client, ctx):
    """Erased text can wait in the write-ahead log (a checkpoint that found a reader, an erasure made some other
    way): every purge run, the hourly one included, ends by checkpointing and truncating it."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    supporter = marked_supporter()
    submission_id = submit(client, supporter)
    service.flush_storage()
    # Erased, but not checkpointed: the old text is still in the -wal file's earlier frames.
    db.session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(supporter_name="", supporter_email="", supporter_address="", supporter_note="", purged_at=utcnow())
    )
    db.session.execute(update(Letter).where(Letter.submission_id == submission_id).values(subject="", body=""))
    db.session.commit()
    assert supporter["note"].encode() in database_text(app)

    assert service.purge().submissions == 0  # nothing left to erase

    stored = database_text(app)
    for word in markers(supporter):
        assert word.encode() not in stored, f"{word!r} is still in the database files"


def old_backlog(count: int) -> None:
    """`count` finished submissions (one handed-off letter each) past the retention window, written in bulk."""
    campaign_id = db.session.scalar(text("SELECT id FROM campaigns WHERE slug = :s"), {"s": LAUNCH})
    template_id = db.session.scalar(text("SELECT id FROM letter_templates WHERE slug = 'un-human-rights-office'"))
    then = utcnow() - dt.timedelta(days=40)
    submissions = [
        Submission(
            campaign_id=campaign_id,
            template_id=template_id,
            channel="mailto",
            supporter_name=f"Backlog {n}",
            supporter_email=f"backlog.{n}@example.org",
            supporter_zip="94110",
            created_at=then,
        )
        for n in range(count)
    ]
    for submission in submissions:
        submission.letters = [
            Letter(
                campaign_id=campaign_id,
                target_id="ohchr",
                template_id=template_id,
                template_version=1,
                channel="mailto",
                status="handed_off",
                subject="Backlog",
                body="Backlog letter",
                created_at=then,
            )
        ]
    db.session.add_all(submissions)
    db.session.commit()


def purge_work(count: int) -> tuple[int, int]:
    """Purge a backlog of `count`: (SQLite virtual-machine steps, in thousands, or statements elsewhere; how many
    times the backlog itself was looked for)."""
    old_backlog(count)
    steps, backlog_reads = [0], [0]

    def step() -> int:
        steps[0] += 1
        return 0

    def on_checkout(dbapi_connection, _record, _proxy):
        if db.engine.dialect.name == "sqlite":
            dbapi_connection.set_progress_handler(step, 1000)

    def on_execute(_conn, _cursor, statement, _params, _context, _many):
        if db.engine.dialect.name != "sqlite":
            steps[0] += 1
        looks_for_backlog = "FROM submissions" in statement and "NOT (EXISTS" in statement
        if looks_for_backlog and "submissions.id IN" not in statement:  # not a batch read by its ids
            backlog_reads[0] += 1

    db.session.close()
    event.listen(db.engine, "checkout", on_checkout)
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        assert service.purge(batch=100).submissions == count
    finally:
        event.remove(db.engine, "checkout", on_checkout)
        event.remove(db.engine, "before_cursor_execute", on_execute)
        db.session.close()
        db.engine.dispose()  # no connection keeps the counting handler
    return steps[0], backlog_reads[0]


def test_the_purge_reads_its_backlog_once_and_its_work_grows_linearly(app, ctx):
    """A backlog four times as large is about four times the work (re-querying the backlog for every batch made it
    grow with the square: each query walked every old submission, the erased ones included). Work is counted in
    SQLite's own virtual-machine steps, not time, so a busy machine cannot make it fail."""
    small, small_reads = purge_work(500)
    large, large_reads = purge_work(2000)
    # Measured: 4.1 times as much now, 5.3 before (the share that grew with the square).
    assert large < 4.6 * small, f"500 submissions took {small}, 2,000 took {large}"
    assert (small_reads, large_reads) == (1, 1)
