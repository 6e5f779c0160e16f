"""`make run` as a supporter's laptop runs it (`python -m webapp.devserver`: embedded Redis, SQLite, gunicorn, the
delivery worker and the scheduler): its worker killed, the site keeps answering and the letter still goes out; a
Ctrl-C leaves no process behind and the port free."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import PROJECT
from tests.support.letters import un_letter
from tests.support.mailserver import free_port
from tests.support.waiting import wait_for
from webapp.config import ENVIRONMENT
from webapp.devserver import Child, port_problem

pytestmark = pytest.mark.faults

SUPPORTER = {"name": "Ana Ruiz", "email": "ana@example.org", "zip": "94110", "note": "Reunite them now."}


class MakeRun:
    """`python -m webapp.devserver` in a folder of its own (OUTCRY_INSTANCE), in its own session like a terminal's
    foreground job, its output in a file."""

    def __init__(self, instance: Path, **settings: str):
        self.instance, self.port = instance, free_port()
        self.log = instance.parent / f"{instance.name}.log"
        env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
        env.update(OUTCRY_INSTANCE=str(instance), PORT=str(self.port), PYTHONUNBUFFERED="1", **settings)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "webapp.devserver"],
                cwd=PROJECT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        return [int(pid) for pid in re.findall(rf"^  {name}: started \(pid (\d+)\)$", self.output(), re.MULTILINE)]

    def get(self, path: str) -> tuple[int, dict | str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                body = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read().decode(), exc.code
        with contextlib.suppress(ValueError):
            return status, json.loads(body)
        return status, body

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def healthy(self) -> dict | None:
        if self.process.poll() is not None:
            raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        with contextlib.suppress(OSError):
            status, health = self.get("/healthz")
            if status == 200 and health.get("worker") == "ok":
                return health
        return None

    def ours(self) -> list[psutil.Process]:
        """Every process still running with this instance folder in its environment: what `make run` started."""
        found = []
        marker = f"OUTCRY_INSTANCE={self.instance}"
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                environ = process.environ()
                if f"OUTCRY_INSTANCE={environ.get('OUTCRY_INSTANCE')}" == marker and process.status() != "zombie":
                    found.append(process)
        return found

    def kill_everything(self) -> None:
        for process in self.ours():
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture
def make_run(tmp_path, mail_sink):
    mail_sink.reset()
    started = MakeRun(
        tmp_path / "instance",
        SMTP_ALLOWED_HOSTS=mail_sink.address,
        SMTP_CA_FILE=str(mail_sink.ca_file),
        WORKER_HEARTBEAT_TTL="3",
    )
    yield started
    started.kill_everything()  # only if the test failed half-way: a passing test has stopped it already


def test_killed_worker_is_restarted_and_the_site_stays_up(make_run, mail_sink, report):
    wait_for(make_run.healthy, timeout=120, interval=0.5, what="make run to serve with a worker")
    (worker,) = make_run.pids("worker")
    os.kill(worker, signal.SIGKILL)  # as the OOM killer would
    wait_for(lambda: "worker: was killed by SIGKILL" in make_run.output(), timeout=10, what="the supervisor to notice")

    # The site answers while the worker is gone, and takes a letter.
    status, page = make_run.get("/")
    assert status == 200 and "Reunite" in page
    status, created = make_run.post("/api/v1/submissions", un_letter(SUPPORTER, "smtp", smtp=mail_sink.smtp_settings()))
    assert status == 202, created

    def sent() -> dict | None:
        _status, view = make_run.get(f"/api/v1/submissions/{created['id']}")
        return view if view["done"] else None

    view = wait_for(sent, timeout=60, interval=0.3, what="the letter to be delivered by the restarted worker")
    assert [letter["status"] for letter in view["letters"]] == ["sent"]
    assert list(mail_sink.message_ids().values()) == [1]
    restarted = make_run.pids("worker")
    assert len(restarted) == 2 and restarted[1] != worker, make_run.output()[-2000:]
    assert make_run.pids("web") and len(make_run.pids("web")) == 1, "the web server never went down"
    report(f"worker {worker} killed; restarted as {restarted[1]}; the letter was sent after the restart")

    # Ctrl-C: what a terminal sends to its foreground job.
    os.killpg(make_run.process.pid, signal.SIGINT)
    assert make_run.process.wait(timeout=60) == 0, make_run.output()[-2000:]
    assert "Stopped." in make_run.output()
    left = make_run.ours()
    assert not left, f"processes left behind: {[(p.pid, p.cmdline()) for p in left]}"
    assert port_problem(make_run.port) is None, "the port is still held after Ctrl-C"


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path):
    instance = tmp_path / "instance"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
        env.update(OUTCRY_INSTANCE=str(instance), PORT=str(port))
        result = subprocess.run(
            [sys.executable, "-m", "webapp.devserver"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"Port {port} is already in use" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
    assert "Outcry is running" not in result.stdout
    assert not instance.exists(), "nothing may start (no Redis, no database) when the port is taken"


def test_a_child_that_keeps_dying_is_restarted_ever_more_slowly():
    """1, 2, 4 … 30 s between restarts while it dies soon after each start; at once again after a healthy run."""
    child = Child("worker", [])
    clock = 1000.0

    class Dead:
        pid, returncode = 999_999_999, 1

    child.process = Dead()
    waits = []
    for _ in range(7):
        child.started_at = clock - 2  # it lived two seconds
        waits.append(child.died(clock))
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    child.started_at = clock - 600  # a long, healthy run before this death
    assert child.died(clock) == 0
