"""Outcry's Flask application: `create_app()` assembles config, extensions, blueprints and commands.

Import direction (keep it one way; `make lint` holds it with import-linter's contracts in pyproject.toml):
    views → services → models / extensions → core
    tasks → services
Feature packages import each other one way only: no two import each other, directly or round a loop. What
several features use lives below them: `core/` (the field rules, the template sandbox and its render processes,
the letter framing, the versioned per-process copies, the invalid-input error) imports no other part of Outcry, and `organizers/` (accounts, the target-write permission
rule) imports no feature. Services never import views; nothing imports `tasks.celery` except Celery itself.
Views hand work to workers by task name (`celery.send_task`), so the web code never imports the tasks package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from webapp import config as settings
from webapp import i18n
from webapp.campaigns import cache as campaign_cache
from webapp.extensions import celery_init_app, csrf, database_init_app, db, login_manager, migrate, redis_init_app


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    settings.load(app.config, app.instance_path, test_config)
    _register_logging(app)
    _register_extensions(app)
    _register_blueprints(app)
    _register_security(app)
    _register_errors(app)
    _register_commands(app)
    return app


def _register_logging(app: Flask) -> None:
    from webapp.operations import logs

    logs.configure()  # one line per event, unless gunicorn or pytest already set logging up


def _register_extensions(app: Flask) -> None:
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)  # for this user only, like everything in it
    database_init_app(app)
    migrate.init_app(app, db, directory=str(settings.MIGRATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    redis_init_app(app)
    celery_init_app(app)
    campaign_cache.init_app(app)
    i18n.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from webapp.api.views import bp as api
    from webapp.congress.views import bp as congress
    from webapp.embed.views import bp as embed
    from webapp.health.views import bp as health
    from webapp.i18n.views import bp as language
    from webapp.letters.pages import bp as campaigns
    from webapp.letters.refused import bp as cwc
    from webapp.letters.views import bp as letters
    from webapp.organize.api import bp as organize_api
    from webapp.organize.views import bp as organize
    from webapp.organizers import accounts
    from webapp.security import paths

    paths.init_app(app)  # before any route: no address part holds a control character
    for blueprint in (campaigns, letters, api, congress, cwc, health, language, organize, organize_api, embed):
        app.register_blueprint(blueprint)
    accounts.init_app(app)  # who an organizer's log-in cookie names, and where the logged-out are sent


def _register_security(app: Flask) -> None:
    """Proxy hops, security headers and rate limits (which wrap views: after the blueprints), and privacy."""
    from webapp import privacy, security

    security.init_app(app)
    privacy.init_app(app)


def _register_errors(app: Flask) -> None:
    from webapp.errors import register

    register(app)


def _register_commands(app: Flask) -> None:
    from webapp.campaigns.cli import campaigns_cli, totals_command
    from webapp.congress.cli import congress_cli
    from webapp.cwc.cli import cwc_cli
    from webapp.letters.cli import letters_cli
    from webapp.operations.cli import config_cli, mail_cli  # also adds `letters requeue` and `letters stuck`
    from webapp.organize.cli import organizers_cli
    from webapp.privacy.cli import privacy_cli
    from webapp.security.cli import limits_cli

    app.cli.add_command(campaigns_cli)
    app.cli.add_command(totals_command)
    app.cli.add_command(letters_cli)
    app.cli.add_command(config_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(congress_cli)
    app.cli.add_command(cwc_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(limits_cli)
    app.cli.add_command(organizers_cli)
