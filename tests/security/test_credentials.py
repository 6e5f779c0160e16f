"""Supporters' mail passwords (issue 12.3): encrypted, expiring, in a Redis that keeps nothing on disk, and never
given to one that would. The whole path (delivery, purge, then every file) is tried in tests/test_privacy.py."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from tests.support.letters import un_letter
from webapp.delivery import credentials
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db, get_credentials_redis, get_redis
from webapp.models import Submission

ACCOUNT = SmtpAccount("smtp.example.org", 587, "starttls", "maria@example.org", "her app password, 16 chars")


def test_a_waiting_password_is_encrypted_expires_and_never_touches_the_main_redis(app):
    with app.app_context():
        credentials.store("a-submission", ACCOUNT)
        store = get_credentials_redis()
        raw = store.get("outcry:smtp-credentials:a-submission")
        assert raw.startswith(b"gAAAAA")  # a Fernet token
        for plain in (ACCOUNT.password, ACCOUNT.username, ACCOUNT.host):
            assert plain.encode() not in raw
        assert 0 < store.ttl("outcry:smtp-credentials:a-submission") <= app.config["SMTP_CREDENTIALS_TTL"]
        assert credentials.load("a-submission") == ACCOUNT
        assert [key for key in get_redis().scan_iter() if b"credentials" in key] == []
        credentials.forget("a-submission")
        assert credentials.load("a-submission") is None


def test_the_credentials_redis_keeps_nothing_on_disk(app):
    with app.app_context():
        store = get_credentials_redis()
        assert store.config_get("save") == {"save": ""}
        assert store.config_get("appendonly") == {"appendonly": "no"}


def test_a_redis_that_writes_to_disk_never_receives_a_password(make_app, app, supporter, mail_server, caplog):
    """Pointed at the main Redis (append-only file on), own-email sending is refused before anything is written
    or counted, with a 503 the supporter understands and a log line the operator does; hand-offs still work."""
    persistent = make_app(CREDENTIALS_REDIS_URL=app.config["REDIS_URL"])
    client = persistent.test_client()
    caplog.set_level(logging.ERROR, logger="webapp.delivery.credentials")
    refused = client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))
    assert refused.status_code == 503
    assert "Sending from your own mail account is briefly unavailable on our side" in refused.get_json()["error"]
    assert any("credentials.store_refused reason=persistent" in r.getMessage() for r in caplog.records)
    with persistent.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
        assert [key for key in get_redis().scan_iter() if b"credentials" in key] == []
    assert client.post("/api/v1/submissions", json=un_letter(supporter)).status_code == 202
