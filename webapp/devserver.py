"""`make run`: embedded Redis, migrations, campaigns, then a supervisor that keeps gunicorn, the delivery worker and
the scheduler running (a crashed one is restarted with back-off) until Ctrl-C or SIGTERM stops all of them."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from webapp import embedded_redis
from webapp.config import DELIVERY_QUEUE, PERIODIC_QUEUE, PROJECT_DIR
from webapp.devmail import local_mail_settings

# OUTCRY_INSTANCE moves everything `make run` keeps (database, Redis, secret key) to another folder: a second
# checkout-independent instance, or a test's own.
INSTANCE = Path(os.environ.get("OUTCRY_INSTANCE") or PROJECT_DIR / "instance")
# Each child's output, so the terminal keeps what a person needs: the address, restarts, and why a child died.
LOGS = INSTANCE / "logs"

# A child that ran this long before it died had been working: its next restart is immediate again.
HEALTHY_AFTER = 60.0
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
# How long a child may take to stop on SIGTERM (a worker finishes the conversations in hand) before SIGKILL.
STOP_GRACE = 20.0
# Conversations with mail servers the delivery worker holds at once (threads; see bench/README.md).
WORKER_CONCURRENCY = 200


def _secret_key() -> str:
    """A stable key for this checkout, kept in instance/ (never committed), unless SECRET_KEY is set."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def port_problem(port: int) -> str | None:
    """Why gunicorn could not listen on 127.0.0.1:`port`, or None. Checked before anything starts: otherwise
    the site would be announced and then fail with gunicorn's "Connection in use"."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} is already in use (another `make run`, or another program). Stop it, or choose "
                    f"another port: PORT={port + 1} make run"
                )
            return f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}."
    return None


def _prepare() -> None:
    """Migrate the database and load the campaigns (both idempotent)."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.campaigns.service import load_campaigns
    from webapp.congress.load import ensure_loaded

    app = create_app()
    with app.app_context():
        upgrade()
        if ensure_loaded():
            print("  congress: loaded the bundled members of Congress and ZIP codes")
        from webapp.extensions import db

        report = load_campaigns(Path(app.config["LETTER_TEMPLATES_DIR"]))
        db.session.commit()
        for line in report.lines:
            print(f"  campaigns: {line}")
        db.engine.dispose()


_PR_SET_PDEATHSIG = 1


def _in_own_group_dying_with_us() -> None:
    """In the child, before exec: SIGTERM when the supervisor itself dies (even by SIGKILL), so no child
    outlives it. The child's own process group (start_new_session) keeps the terminal's Ctrl-C for us:
    we stop the children in order instead of each reacting on its own."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    """One supervised program: how to start it, and its restart bookkeeping."""

    name: str
    argv: list[str]
    log: Path | None = None  # where its output goes (None: the terminal)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0  # deaths in a row, each soon after its start: the back-off grows with them
    restart_at: float | None = None
    groups: set[int] = field(default_factory=set)  # every process group it ever had, to clear out at the end

    def start(self) -> None:
        output = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            output = open(self.log, "ab")  # noqa: SIM115 - the child holds it; ours closes below
        try:
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_DIR,
                start_new_session=True,
                preexec_fn=_in_own_group_dying_with_us,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        finally:
            if output is not None:
                output.close()
        self.groups.add(self.process.pid)
        self.started_at = time.monotonic()
        self.restart_at = None
        print(f"  {self.name}: started (pid {self.process.pid})", flush=True)

    def died(self, now: float) -> float:
        """Note that the process exited; returns the back-off before it is started again."""
        ran = now - self.started_at
        self.quick_deaths = 0 if ran >= HEALTHY_AFTER else self.quick_deaths + 1
        backoff = 0.0 if self.quick_deaths == 0 else min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (self.quick_deaths - 1))
        code = self.process.returncode
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        print(f"  {self.name}: {how} after {ran:.0f}s; restarting in {backoff:.0f}s", flush=True)
        for line in self.last_lines():
            print(f"    {line}", flush=True)
        # Whatever the dead leader left in its group (gunicorn workers, Celery pool processes) goes with it.
        _signal_group(self.process.pid, signal.SIGKILL)
        self.restart_at = now + backoff
        return backoff

    def last_lines(self, count: int = 8) -> list[str]:
        """The end of its log, shown when it dies: why it died is usually there."""
        if self.log is None or not self.log.exists():
            return []
        with open(self.log, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            return [line for line in log.read().decode(errors="replace").splitlines() if line.strip()][-count:]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def children(port: str, credentials: embedded_redis.VolatileRedis | None = None) -> list[Child]:
    """What `make run` runs: the credentials Redis (unless CREDENTIALS_REDIS_URL names one), gunicorn, the
    delivery worker, and the scheduler (beat plus the periodic jobs).

    The scheduler is a small worker of its own consuming only the periodic queue, with beat inside it, so
    the sweeper and the retention purge run however busy (or stuck) delivery is.
    """
    bin_dir = Path(sys.executable).parent
    celery = [str(bin_dir / "celery"), "-A", "tasks"]
    supervised = [
        *([Child("credentials-redis", credentials.argv)] if credentials else []),
        Child(
            "web",
            [
                str(bin_dir / "gunicorn"),
                "webapp:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--graceful-timeout",
                "10",
                "--access-logfile",
                "-",
                # No client address in the log: Outcry never stores one (docs/security.md, "Privacy by default").
                "--access-logformat",
                '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            ],
        ),
        Child(
            "worker",
            [
                *celery,
                "worker",
                "--hostname",
                "worker@%h",
                "--queues",
                DELIVERY_QUEUE,
                # Conversations wait on mail servers, not on the CPU: threads, many of them (bench/README.md).
                "--pool",
                "threads",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
        ),
        Child(
            "scheduler",
            [
                *celery,
                "worker",
                "--beat",
                "--hostname",
                "scheduler@%h",
                "--queues",
                PERIODIC_QUEUE,
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                "--schedule",
                str(INSTANCE / "celerybeat-schedule"),
            ],
        ),
    ]
    for child in supervised:
        child.log = LOGS / f"{child.name}.log"
    return supervised


class Supervisor:
    """Starts the children, restarts any that dies (back-off 1, 2, 4 … 30 s while it keeps dying within a
    minute of its start), and on Ctrl-C / SIGTERM / SIGHUP stops them all: SIGTERM to each process group,
    SIGKILL to what is left after STOP_GRACE (or at once on a second Ctrl-C)."""

    def __init__(self, supervised: list[Child], *, ready: Callable[[], bool] | None = None, banner: str = ""):
        self.children = supervised
        self.stopping = False
        self.hurry = False
        # The banner (the address) is printed once `ready` says the site answers, after the children's start-up,
        # and its first line again after any restart, so the last thing on the terminal says where Outcry is.
        self.ready, self.banner, self.announced = ready, banner, False

    def _on_signal(self, signum, _frame) -> None:
        if self.stopping:
            self.hurry = True
        self.stopping = True

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            for child in self.children:
                child.start()
            while not self.stopping:
                now = time.monotonic()
                for child in self.children:
                    if child.restart_at is None and not child.running:
                        child.died(now)
                    if child.restart_at is not None and now >= child.restart_at and not self.stopping:
                        child.start()
                        if self.announced:
                            first = self.banner.strip().splitlines()[0]
                            print("  " + first.replace(" is running", " is still running"), flush=True)
                if self.banner and not self.announced and not self.stopping and (self.ready is None or self.ready()):
                    print(self.banner, flush=True)
                    self.announced = True
                time.sleep(0.2)
        finally:
            self.stop()

    def stop(self) -> None:
        print("  stopping…", flush=True)
        for child in self.children:
            if child.running:
                _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while any(child.running for child in self.children) and time.monotonic() < deadline and not self.hurry:
            time.sleep(0.1)
        for child in self.children:
            if child.running:
                print(f"  {child.name}: did not stop within {STOP_GRACE:.0f}s; killed", flush=True)
            for group in child.groups:  # leaders are gone or going; nothing of theirs may stay behind
                _signal_group(group, signal.SIGKILL)
            if child.process is not None:
                child.process.wait()


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def banner(port: str) -> str:
    site = f"http://127.0.0.1:{port}"
    return (
        f"\n  Outcry is running: open {site}\n"
        f"  Organizers: {site}/organize (the first admin: .venv/bin/flask --app webapp organizers create "
        "you@example.org --role admin)\n"
        f"  Logs: {_shown(LOGS)}/web.log, worker.log, scheduler.log\n"
        "  Press Ctrl-C to stop.\n"
    )


def _answers(port: int) -> bool:
    """Whether the web server answers HTTP yet (any status: the worker may still be starting)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _use_local_mail_server() -> None:
    """After `make mailserver`: trust its certificate and allow its address, unless SMTP_CA_FILE says otherwise."""
    settings = local_mail_settings(INSTANCE)
    if not settings or os.environ.get("SMTP_CA_FILE"):
        return
    os.environ["SMTP_CA_FILE"] = settings["SMTP_CA_FILE"]
    allowed = [host.strip() for host in os.environ.get("SMTP_ALLOWED_HOSTS", "").split(",") if host.strip()]
    if settings["SMTP_ALLOWED_HOSTS"] not in allowed:
        allowed.append(settings["SMTP_ALLOWED_HOSTS"])
    os.environ["SMTP_ALLOWED_HOSTS"] = ",".join(allowed)
    print(
        f"  mail: the local mail server at {settings['SMTP_ALLOWED_HOSTS']} is allowed and its certificate "
        f"({_shown(Path(settings['SMTP_CA_FILE']))}) trusted (make mailserver)",
        flush=True,
    )


def main() -> int:
    port = os.environ.get("PORT", "5000")
    if not port.isdigit() or not 0 < int(port) < 65536:
        print(f"  PORT={port!r} is not a port number.", file=sys.stderr)
        return 2
    problem = port_problem(int(port))
    if problem:
        print(f"  {problem}", file=sys.stderr)
        return 1
    # Everything this run writes (database, Redis, keys, logs of the schedule) is for this user's eyes only:
    # files 0600, folders 0700, and the instance folder closed to others even if older files are not.
    os.umask(0o077)
    INSTANCE.mkdir(mode=0o700, exist_ok=True)
    INSTANCE.chmod(0o700)
    os.environ["SECRET_KEY"] = _secret_key()
    # Supporters' mail passwords wait in a Redis that writes nothing to disk, under a key made for this run and
    # held only in the environment of its processes: never written next to the data (issue 12.3).
    os.environ.setdefault("CREDENTIALS_KEY", secrets.token_urlsafe(32))
    credentials = None
    if not os.environ.get("CREDENTIALS_REDIS_URL"):
        credentials = embedded_redis.VolatileRedis()
        os.environ["CREDENTIALS_REDIS_URL"] = credentials.url
        print("  credentials: a Redis that keeps nothing on disk, with a key that lives only in this run")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{INSTANCE / 'outcry.db'}"
    started_redis = False
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded_redis.url_for(str(INSTANCE))
        started_redis = True
        print(f"  redis: embedded (appendonly, data in {INSTANCE / 'redis'})")
    _use_local_mail_server()
    try:
        print("  preparing the database (migrations, Congress data, campaigns)…", flush=True)
        _prepare()
        supervisor = Supervisor(children(port, credentials), ready=lambda: _answers(int(port)), banner=banner(port))
        print(
            f"  starting the web server, the delivery worker and the scheduler (logs in {_shown(LOGS)}/)…", flush=True
        )
        supervisor.run()
    finally:
        if started_redis:
            embedded_redis.stop(str(INSTANCE))
        if credentials is not None:
            credentials.remove()
        print("  Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
