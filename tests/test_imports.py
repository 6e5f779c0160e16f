"""Importing the code does nothing: no SQLAlchemy listener on the library's own classes, no log-in set-up, no
app built. All of that happens in `create_app()`, for the app it builds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil

    import webapp
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.event import registry
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import Pool

    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        importlib.import_module(module.name)
    importlib.import_module("tasks.delivery")
    importlib.import_module("tasks.privacy")

    from webapp.extensions import login_manager

    classes = {id(cls): cls.__name__ for cls in (Engine, Connection, Pool, Session)}
    for target, name, _listener in list(registry._key_to_collection):
        if target in classes:
            print("listener", classes[target], name)
    if login_manager._user_callback is not None or login_manager.login_view is not None:
        print("login manager set up")
    """
)


def test_importing_every_module_registers_nothing():
    found = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT, capture_output=True, text=True, timeout=120, check=True
    )
    assert found.stdout.splitlines() == []


def test_the_app_sets_up_what_it_needs(app):
    """What the import no longer does, the factory does: the log-in page is where logged-out organizers go."""
    response = app.test_client().get("/organize/")
    assert response.status_code == 302 and "/organize/login" in response.headers["Location"]
