"""Per-process copies of what the database holds, kept fresh by a version that changes whenever the data does.

Both caches Outcry keeps (the campaign copies in webapp/campaigns/cache.py, the Congress lookup in
webapp/congress/service.py) are this: values built from the database, tagged with the version their source
gave just before the build, and built again when the source gives another version or when a copy is older
than a maximum age. What differs between them is only the source (a key in Redis, a row in the database)
and how often it is asked (on every use, or every few seconds).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from time import monotonic
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionUnknown(Exception):
    """The version source cannot be asked now (Redis is down, say): no copy can be called current."""


@dataclass(frozen=True)
class _Entry(Generic[T]):
    version: object
    built_at: float
    value: T


class VersionedCopies(Generic[T]):
    """Copies by key, each rebuilt when `read_version()` differs from the version it was built under.

    `read_version` is asked at most once per `check_every` seconds (0: on every use); it raises VersionUnknown
    when it cannot tell, and then `get` raises it too, so the caller reads the database instead. A copy older
    than `max_age` seconds is rebuilt whatever the version says (it bounds the staleness a lost version
    change can cause). `build` returning None means there is nothing to keep; it is passed on, not stored.
    """

    def __init__(
        self, read_version: Callable[[], object], *, check_every: float = 0.0, max_age: float | None = None
    ) -> None:
        self.read_version = read_version
        self.check_every = check_every
        self.max_age = max_age
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._checked: tuple[object, float] | None = None  # (version, when), replaced as a whole
        self._generation = object()  # replaced by each clear(): a use that began before one keeps nothing
        self._builds: dict[Hashable, threading.Lock] = {}  # the keys being built now, and only those
        self._guard = threading.Lock()  # over _builds, storing a copy and clearing; never held during a build

    def get(self, key: Hashable, build: Callable[[], T | None]) -> T | None:
        checked = self._checked  # inline, not a call: this is the hot path of every ZIP lookup
        version = checked[0] if checked is not None and monotonic() - checked[1] < self.check_every else self._version()
        entry = self._entries.get(key)
        if entry is not None and entry.version == version and self.max_age is None:
            return entry.value
        if self._current(entry, version):
            return entry.value  # type: ignore[union-attr]
        generation = self._generation  # before the rows are read: a clear() from here on means they may be old
        with self._building(key):  # one build per key at a time: a second thread waits and takes the first one's copy
            entry = self._entries.get(key)
            if self._current(entry, version):
                return entry.value  # type: ignore[union-attr]
            value = build()  # after reading the version: a change during the build is caught by the next check
            if value is not None:
                with self._guard:
                    if generation is self._generation:  # no clear() since the build began
                        self._entries[key] = _Entry(version, monotonic(), value)
            return value

    def clear(self) -> None:
        """Drop every copy and ask the source again on the next use (this process changed the data). A build under
        way keeps nothing: it may have read the rows from before the change."""
        with self._guard:
            self._generation = object()
            self._entries.clear()
            self._checked = None

    @contextlib.contextmanager
    def _building(self, key: Hashable) -> Iterator[None]:
        """Hold `key`'s build lock. Other keys build meanwhile (a slow campaign holds up only its own pages), and a
        lock lives only while its key is being built, so keys a stranger makes up (a slug in a URL) leave nothing."""
        with self._guard:
            lock = self._builds.setdefault(key, threading.Lock())
        with lock:
            try:
                yield
            finally:
                with self._guard:
                    if self._builds.get(key) is lock:
                        del self._builds[key]

    def _version(self) -> object:
        now = monotonic()
        version = self.read_version()
        self._checked = (version, now)
        return version

    def _current(self, entry: _Entry[T] | None, version: object) -> bool:
        if entry is None or entry.version != version:
            return False
        return self.max_age is None or monotonic() - entry.built_at <= self.max_age
