"""Operator commands (`flask config show`, `flask mail test`, `flask letters stuck|requeue`), /healthz's outbox
age, the sweeper's backlog rule, leftover passwords, and one-line logs."""

from __future__ import annotations

import datetime as dt
import logging
import sys

import pytest
import redis

from tests.support.letters import un_letter
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.waiting import wait_for
from webapp import outbox
from webapp.delivery import credentials
from webapp.delivery import service as delivery
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db, get_redis
from webapp.models import Letter, utcnow
from webapp.operations.logs import OneLineFormatter

# ---- flask config show ------------------------------------------------------------------------------------------


def test_config_show_lists_every_setting_and_masks_every_secret(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "DATABASE_URL", "postgresql+psycopg2://outcry:pg-secret-1@db:5432/outcry")
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://:redis-secret-2@cache:6379/0")
    monkeypatch.setitem(app.config, "CREDENTIALS_KEY", "credentials-secret-3")
    monkeypatch.setenv("SMTP_TIMEOUT", "5")
    result = runner.invoke(args=["config", "show"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    for secret in ("pg-secret-1", "redis-secret-2", "credentials-secret-3", app.config["SECRET_KEY"]):
        assert secret not in result.output
    assert lines["DATABASE_URL"].split()[1] == "postgresql+psycopg2://outcry:****@db:5432/outcry"
    assert lines["REDIS_URL"].split()[1] == "redis://:****@cache:6379/0"
    assert "set (hidden)" in lines["SECRET_KEY"] and "set (hidden)" in lines["CREDENTIALS_KEY"]
    assert lines["SMTP_TIMEOUT"].endswith("[environment]")
    assert lines["DELIVERY_SEND_LEASE"].endswith("[default]")
    for name in ("SMTP_ALLOWED_HOSTS", "DELIVERY_RETRY_DELAYS", "SWEEP_INTERVAL", "WORKER_HEARTBEAT_TTL"):
        assert name in lines


# ---- flask mail test --------------------------------------------------------------------------------------------


def _mail_test(runner, server, *extra, **kwargs):
    args = ["mail", "test", "petitions@example.net", "--smtp-host", server.host, "--smtp-port", str(server.port)]
    return runner.invoke(args=[*args, *extra], **kwargs)


def test_mail_test_sends_one_letter_the_way_workers_do(runner, mail_server, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    result = _mail_test(runner, mail_server, "--username", USERNAME)
    assert result.exit_code == 0, result.output
    assert len(mail_server.received) == 1
    message = mail_server.received[0].message
    assert mail_server.received[0].rcpt_tos == ["petitions@example.net"]
    assert message["From"] == f"Outcry <{USERNAME}>"
    assert message["Subject"] == "Outcry test letter"
    assert message["Message-ID"] in result.output
    assert mail_server.auth_attempts == [("PLAIN", True)]
    assert PASSWORD not in result.output


def test_mail_test_asks_for_the_password_without_echoing_it(runner, mail_server, monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    result = _mail_test(runner, mail_server, "--username", USERNAME, input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert f"Password for {USERNAME}" in result.output
    assert PASSWORD not in result.output
    assert len(mail_server.received) == 1


def test_mail_test_takes_no_password_argument(runner, mail_server):
    result = _mail_test(runner, mail_server, "--username", USERNAME, "--password", PASSWORD)
    assert result.exit_code == 2
    assert mail_server.received == []


def test_mail_test_reports_a_wrong_password_readably(runner, mail_server, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "not the password")
    result = _mail_test(runner, mail_server, "--username", USERNAME)
    assert result.exit_code == 1
    assert "rejected the user name or password" in result.output
    assert "not the password" not in result.output


def test_mail_test_obeys_the_ssrf_policy(runner, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "whatever")
    result = runner.invoke(
        args=[
            "mail",
            "test",
            "a@example.net",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            "25",
            "--from",
            "b@example.org",
        ]
    )
    assert result.exit_code == 1
    assert "can't use 127.0.0.1 as your mail server" in result.output


# ---- the outbox: flask letters stuck / requeue, /healthz --------------------------------------------------------


def _waiting_letter(app, client, supporter, *, status="queued", age=120.0, lease_in=60.0, retry_in=None) -> Letter:
    """A letter in the outbox as a worker would leave it, written directly so no worker races the test."""
    created = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    ).get_json()
    now = utcnow()
    with app.app_context():
        letter = db.session.get(Letter, created["letters"][0]["id"])
        letter.channel, letter.status, letter.recipient = "smtp", status, "petitions@ohchr.org"
        letter.created_at = now - dt.timedelta(seconds=age)
        letter.lease_until = now + dt.timedelta(seconds=lease_in)
        letter.next_attempt_at = now + dt.timedelta(seconds=retry_in) if retry_in else None
        letter.finished_at, letter.attempts = None, 1
        letter.claim_token = "worker-token" if status == "sending" else None
        letter.error = "Your mail server asked us to try again later (code 451)." if retry_in else None
        db.session.commit()
        db.session.refresh(letter)
        db.session.expunge(letter)
    return letter


def test_healthz_reports_the_age_of_the_oldest_waiting_letter(app, client, supporter):
    assert client.get("/healthz").get_json()["oldest_queued_seconds"] is None
    _waiting_letter(app, client, supporter, age=300)
    _waiting_letter(app, client, supporter, status="sending", age=30)
    health = client.get("/healthz").get_json()
    assert 300 <= health["oldest_queued_seconds"] < 330
    assert client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Health"]["required"] == [
        "database",
        "redis",
        "worker",
        "oldest_queued_seconds",
        "oldest_due_seconds",
        "problems",
    ]


@pytest.fixture
def a_worker_is_alive(app):
    """A delivery worker's heartbeat, as tasks/celery.py writes it (the suite's in-thread worker writes none)."""
    with app.app_context():
        get_redis().set("outcry:worker:test:1", "alive", ex=60)
    yield
    with app.app_context():
        get_redis().delete("outcry:worker:test:1")


def test_healthz_is_503_when_a_due_letter_waited_too_long(app, client, supporter, a_worker_is_alive, monkeypatch):
    """The stall the issue saw: a letter waiting 390 s while /healthz said all was well."""
    monkeypatch.setitem(app.config, "HEALTH_MAX_WAIT", 120)
    _waiting_letter(app, client, supporter, age=600, retry_in=200)  # waits for its retry time: not due
    _waiting_letter(app, client, supporter, status="sending", age=900, lease_in=60)  # a worker holds it
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["oldest_due_seconds"] is None and response.get_json()["problems"] == []

    _waiting_letter(app, client, supporter, age=100)
    assert client.get("/healthz").status_code == 200, "due for 100 s: within the 120 s allowed"
    _waiting_letter(app, client, supporter, status="sending", age=400, lease_in=-130)  # its worker died
    response = client.get("/healthz")
    assert response.status_code == 503
    health = response.get_json()
    assert 130 <= health["oldest_due_seconds"] < 160
    assert len(health["problems"]) == 1 and "more than HEALTH_MAX_WAIT (120 s)" in health["problems"][0]
    assert health["worker"] == "ok"


def test_healthz_is_503_when_no_delivery_worker_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["worker"] == "none"
    assert response.get_json()["problems"] == [
        "No delivery worker is alive (no heartbeat in Redis): own-email letters are not going out."
    ]


def test_healthz_is_503_when_redis_is_unreachable(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "redis", redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "unreachable"
    assert response.get_json()["database"] == "ok"


def test_stuck_explains_each_unfinished_letter(app, client, runner, supporter):
    retrying = _waiting_letter(app, client, supporter, age=600, retry_in=200)
    lost = _waiting_letter(app, client, supporter, status="sending", age=400, lease_in=-45)
    result = runner.invoke(args=["letters", "stuck"])
    assert result.exit_code == 0, result.output
    assert "2 letters unfinished (queued 1, sending 1)" in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert "waiting 3m to retry" in lines[retrying.id]
    assert "last problem: Your mail server asked us to try again later (code 451)." in lines[retrying.id]
    assert "password has expired" in lines[retrying.id]
    assert "its worker stopped 45s ago; the sweeper queues it again" in lines[lost.id]
    assert supporter["name"] not in result.output and supporter["email"] not in result.output
    assert runner.invoke(args=["letters", "stuck", "--older-than", "500"]).output.startswith("1 letters unfinished")


def test_stuck_says_when_everything_is_finished(runner):
    assert runner.invoke(args=["letters", "stuck"]).output.startswith("Every letter is finished.")


@pytest.mark.usefixtures("celery_worker")
def test_requeue_sends_waiting_letters_now_and_leaves_held_ones_alone(app, client, runner, supporter, mail_server):
    waiting = _waiting_letter(app, client, supporter, retry_in=3600)
    held = _waiting_letter(app, client, {**supporter, "email": "other@example.org"}, status="sending", lease_in=600)
    with app.app_context():
        account = SmtpAccount(mail_server.host, mail_server.port, "starttls", USERNAME, PASSWORD)
        credentials.store(waiting.submission_id, account)
    result = runner.invoke(args=["letters", "requeue"])
    assert result.exit_code == 0, result.output
    assert "1 letters of 1 submissions queued again." in result.output
    with app.app_context():
        wait_for(lambda: db.session.get(Letter, waiting.id, populate_existing=True).status == "sent", what="delivery")
        assert db.session.get(Letter, held.id).status == "sending"
    assert len(mail_server.received) == 1
    assert runner.invoke(args=["letters", "requeue", "--include-sending"]).output.startswith("1 letters of 1")
    with app.app_context():  # no password was ever stored for it: it fails, asking to send again
        wait_for(lambda: db.session.get(Letter, held.id, populate_existing=True).status == "failed", what="failure")
        assert db.session.get(Letter, held.id).error == delivery.EXPIRED


# ---- the sweeper ------------------------------------------------------------------------------------------------


def test_sweeper_leaves_letters_waiting_in_a_backlog_but_takes_back_dead_workers_letters(app, client, supporter):
    lease = app.config["DELIVERY_QUEUE_LEASE"]
    in_backlog = _waiting_letter(app, client, supporter, lease_in=-5)
    long_lost = _waiting_letter(app, client, supporter, lease_in=-(outbox.BACKLOG_GRACE_LEASES * lease + 5))
    dead_worker = _waiting_letter(app, client, supporter, status="sending", lease_in=-5)
    with app.app_context():
        swept = outbox.sweep(backlog=25)
        assert sorted(swept) == sorted([long_lost.submission_id, dead_worker.submission_id])
        assert outbox.sweep(backlog=0) == [in_backlog.submission_id]
        assert outbox.sweep(backlog=0) == [], "a swept letter gets a fresh lease"


def test_passwords_left_behind_are_deleted_for_finished_submissions_only(app, client, supporter):
    finished = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    ).get_json()["id"]
    waiting = _waiting_letter(app, client, supporter).submission_id
    with app.app_context():
        account = SmtpAccount("smtp.example.org", 587, "starttls", USERNAME, PASSWORD)
        for submission_id in (finished, waiting, "being-written-right-now"):
            credentials.store(submission_id, account)
        assert delivery.forget_finished_credentials() == 1
        assert sorted(credentials.stored_submission_ids()) == sorted([waiting, "being-written-right-now"])
        credentials.forget(waiting, "being-written-right-now")


# ---- logs -------------------------------------------------------------------------------------------------------


def test_log_lines_stay_one_line_even_with_a_traceback():
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        record = logging.LogRecord("webapp", logging.ERROR, __file__, 1, "event key=%s", ("a\r\nb",), sys.exc_info())
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("ERROR event key=a\\r\\nb\\nTraceback")
