"""First run, as README says: `make run` installs only what running needs, keeps the address on screen, and, after
`make mailserver`, sends a supporter's own-email letter to that local server with its certificate trusted."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import trustme

from tests.conftest import PROJECT
from tests.support.letters import un_letter
from tests.support.mailserver import free_port
from tests.support.waiting import wait_for
from webapp.config import ENVIRONMENT
from webapp.devmail import local_mail_settings


def clean_env(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
    env.update(PYTHONUNBUFFERED="1", **settings)
    return env


def requirement_names(name: str) -> set[str]:
    found = set()
    for line in (PROJECT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= requirement_names(line[3:].strip())
        elif line:
            found.add(re.split(r"[=<>!~\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return found


# ---- make run installs only what running needs -------------------------------------------------------------------


def make_dry_run(tmp_path: Path, target: str) -> str:
    """What `make TARGET` would run in a fresh checkout (no .venv yet), without running it."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "requirements-mailserver.txt"):
        shutil.copy(PROJECT / name, tmp_path / name)
    # Run as a person would, not as a sub-make of `make test` (which would print "Entering directory" lines).
    env = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_run_installs_only_requirements_txt_and_make_test_the_test_tools(tmp_path):
    run = make_dry_run(tmp_path, "run")
    installs = [line for line in run.splitlines() if "pip install" in line]
    assert len(installs) == 1 and installs[0].endswith("-r requirements.txt"), run
    assert "requirements-dev.txt" not in run and "requirements-mailserver.txt" not in run
    assert run.strip().endswith("-m webapp.devserver")
    assert "-r requirements-dev.txt" in make_dry_run(tmp_path, "test")
    assert "-r requirements.txt -r requirements-mailserver.txt" in make_dry_run(tmp_path, "mailserver")
    assert {"pytest", "playwright", "hypothesis"} & requirement_names("requirements.txt") == set()


def test_running_needs_nothing_that_only_the_tests_install(tmp_path):
    """The app, its worker and `make run` import with every test-only package made unimportable."""
    dev_only = requirement_names("requirements-dev.txt") - requirement_names("requirements.txt")
    script = textwrap.dedent(
        f"""
        import importlib.abc, importlib.metadata, sys
        dev_only = {sorted(dev_only)!r}
        blocked = {{name for name, dists in importlib.metadata.packages_distributions().items()
                    if any(d.lower().replace("_", "-") in dev_only for d in dists)}}
        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError(f"{{name}} is only installed for the tests")
        sys.meta_path.insert(0, Blocker())
        import webapp.devserver, webapp.devmail
        from webapp import create_app
        app = create_app()
        import tasks.celery
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
        print("imports", sorted(blocked & set(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env=clean_env(
            SECRET_KEY="x" * 40, DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", REDIS_URL="redis://127.0.0.1:1/0"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("imports []")
    assert {"pytest", "aiosmtpd", "trustme", "psutil"} <= dev_only  # the blocker had something to block


# ---- make mailserver --------------------------------------------------------------------------------------------


class Background:
    """A program of ours in its own session, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        return True

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it to its foreground job."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise


@pytest.fixture
def mailserver(tmp_path):
    """`make mailserver` for an instance folder of the test's own, on a free port."""
    instance, port = tmp_path / "instance", free_port()
    server = Background(
        [sys.executable, "-m", "webapp.devmail"],
        clean_env(OUTCRY_INSTANCE=str(instance), MAIL_PORT=str(port)),
        tmp_path / "mailserver.log",
    )
    wait_for(lambda: server.alive() and "Ctrl-C stops it." in server.output(), timeout=30, what="the mail server")
    server.instance, server.port = instance, port
    server.password = re.search(r"Password or app password\s+(\S+)", server.output()).group(1)
    yield server
    assert server.interrupt() == 0, server.output()[-2000:]


def test_the_mail_server_prints_what_to_type_and_writes_its_certificate(mailserver):
    text = mailserver.output()
    for line in ("Outgoing mail server (SMTP)  localhost", f"Port                         {mailserver.port}",
                 "Encryption                   STARTTLS", "User name"):  # fmt: skip
        assert line in text
    settings = local_mail_settings(mailserver.instance)
    assert settings == {
        "SMTP_CA_FILE": str(mailserver.instance / "mailserver" / "ca.pem"),
        "SMTP_ALLOWED_HOSTS": f"localhost:{mailserver.port}",
    }
    assert Path(settings["SMTP_CA_FILE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (mailserver.instance / "mailserver" / "ca-key.pem").stat().st_mode & 0o077 == 0
    assert local_mail_settings(mailserver.instance.parent / "elsewhere") == {}


def test_a_letter_reaches_the_mail_server_through_the_apps_own_checks(mailserver, make_app):
    """`flask mail test` sends as a worker does: the SSRF check, verified STARTTLS, the login."""
    settings = local_mail_settings(mailserver.instance)
    app = make_app(**settings)
    send = ["mail", "test", "petitions@ohchr.org", "--smtp-host", "localhost", "--smtp-port", str(mailserver.port),
            "--from", "maria@example.org"]  # fmt: skip
    wrong = app.test_cli_runner().invoke(args=send, env={"SMTP_PASSWORD": "not it"})
    assert wrong.exit_code != 0
    sent = app.test_cli_runner().invoke(args=send, env={"SMTP_PASSWORD": mailserver.password})
    assert sent.exit_code == 0, sent.output
    inbox = mailserver.instance / "mailserver" / "inbox"
    wait_for(lambda: list(inbox.glob("*.eml")), what="the message in the inbox folder")
    assert "To: petitions@ohchr.org" in (inbox / "0001.eml").read_text()
    assert "received: from maria@example.org to petitions@ohchr.org" in mailserver.output()

    # Without its certificate authority the app refuses the server's certificate: the trust is what makes it work.
    untrusting = make_app(SMTP_ALLOWED_HOSTS=settings["SMTP_ALLOWED_HOSTS"])
    refused = untrusting.test_cli_runner().invoke(args=send, env={"SMTP_PASSWORD": mailserver.password})
    assert refused.exit_code != 0 and "certificate" in refused.output.lower()


# ---- make run: the address stays on screen, and the local mail server is trusted --------------------------------


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post_json(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_readme_recipe_make_mailserver_then_make_run_sends_a_letter(mailserver, tmp_path):
    port = free_port()
    run = Background(
        [sys.executable, "-m", "webapp.devserver"],
        clean_env(OUTCRY_INSTANCE=str(mailserver.instance), PORT=str(port), WORKER_HEARTBEAT_TTL="3"),
        tmp_path / "make-run.log",
    )
    base = f"http://127.0.0.1:{port}"
    stopped = None
    try:
        wait_for(lambda: run.alive() and "Press Ctrl-C to stop." in run.output(), timeout=180, interval=0.5,
                 what="make run to say where it is")  # fmt: skip
        text = run.output()
        assert f"mail: the local mail server at localhost:{mailserver.port} is allowed" in text
        assert f"Outcry is running: open {base}" in text
        wait_for(lambda: get_json(base + "/healthz")[1].get("worker") == "ok", timeout=120, interval=0.5,
                 what="the worker")  # fmt: skip
        # Nothing the children say buries the address: their output goes to the log files.
        assert run.output().rstrip().endswith("Press Ctrl-C to stop."), run.output()[-1500:]
        assert "Booting worker" in (mailserver.instance / "logs" / "web.log").read_text()
        assert (mailserver.instance / "logs" / "worker.log").exists()

        supporter = {"name": "Maria Lopez", "email": "maria@example.org", "zip": "94110", "note": "Reunite them."}
        account = {"host": "localhost", "port": mailserver.port, "security": "starttls",
                   "username": "maria@example.org", "password": mailserver.password}  # fmt: skip
        status, created = post_json(base + "/api/v1/submissions", un_letter(supporter, "smtp", smtp=account))
        assert status == 202, created

        def done() -> dict | None:
            view = get_json(f"{base}/api/v1/submissions/{created['id']}")[1]
            return view if view.get("done") else None

        view = wait_for(done, timeout=90, interval=0.5, what="the letter to be sent")
        assert [letter["status"] for letter in view["letters"]] == ["sent"], view
        assert "received: from maria@example.org to petitions@ohchr.org" in mailserver.output()
        assert run.output().rstrip().endswith("Press Ctrl-C to stop.")  # still the last thing on screen

        # A child that dies: the end of its log says why, and the address comes back below it.
        (worker,) = [int(pid) for pid in re.findall(r"worker: started \(pid (\d+)\)", run.output())]
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: f"Outcry is still running: open {base}" in run.output(), timeout=30, what="the restart")
        after = run.output().split("worker: was killed by SIGKILL")[1]
        assert "    " in after.splitlines()[1]  # the worker log's last lines, indented
        assert run.output().rstrip().endswith(f"Outcry is still running: open {base}")
    finally:
        with contextlib.suppress(Exception):  # stop it whatever failed above, without hiding that failure
            stopped = run.interrupt()
    assert stopped == 0, run.output()[-2000:]  # Ctrl-C is a clean exit
    assert "Stopped." in run.output()


def test_without_make_mailserver_nothing_is_allowed_or_trusted(tmp_path):
    instance = tmp_path / "instance"
    assert local_mail_settings(instance) == {}
    (instance / "mailserver").mkdir(parents=True)
    (instance / "mailserver" / "address").write_text("localhost:2525\n")
    assert local_mail_settings(instance) == {}  # no certificate written: nothing to trust
    (instance / "mailserver" / "ca.pem").write_bytes(trustme.CA().cert_pem.bytes())
    assert local_mail_settings(instance)["SMTP_ALLOWED_HOSTS"] == "localhost:2525"
