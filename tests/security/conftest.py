"""An app factory for tests that need settings the suite's shared app does not have (limits on, a proxy)."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.extensions import db

# What every extra app shares with the suite's app: the same database, Redis and mail servers.
SHARED = (
    "TESTING",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_ALLOWED_HOSTS",
    "SMTP_CA_FILE",
    "SMTP_TIMEOUT",
    "DELIVERY_RETRY_DELAYS",
    "DELIVERY_RETRY_JITTER",
    "SERVER_NAME",
)


@pytest.fixture
def make_app(app, tmp_root):
    """`make_app(RATELIMIT_ENABLED=True, ...)`: a second app on the suite's database and Redis."""
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
