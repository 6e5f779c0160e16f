"""Deadlines over each phase of a conversation with a mail server, and the watchdog that cuts what outlives one.

A phase (connecting and signing in; sending one letter) gets one monotonic deadline. Every socket operation
inside it asks the deadline for its timeout (`remaining()`), so no single read, write, connect or TLS
handshake can outlast it, and a server that trickles one byte at a time runs into the same end as one that
never answers. The watchdog is the backstop for whatever still escapes (a blocking call that takes no
timeout, a bug): one thread per process that, shortly after a phase's deadline, shuts its socket down, which
ends any read or write blocked on it. Celery's own time limits are not enforced by the threads pool, so this
is what bounds a conversation there.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

# How long after a phase's deadline the watchdog cuts its socket: the per-operation timeouts should have
# ended the phase by then; the watchdog only catches what they missed.
WATCHDOG_GRACE = 2.0


class DeadlineExceeded(TimeoutError):
    """The phase ran out of time; a temporary failure (the letters are retried on the schedule)."""

    def __init__(self, deadline: Deadline):
        super().__init__(f"{deadline.phase} took longer than {deadline.seconds:g}s")
        self.deadline = deadline


class Deadline:
    """The end of one phase, on the monotonic clock."""

    def __init__(self, seconds: float, phase: str):
        self.seconds, self.phase = float(seconds), phase
        self.at = time.monotonic() + self.seconds
        self.was_cut = False  # the watchdog cut the phase's socket: whatever error follows is this deadline's doing

    def remaining(self) -> float:
        """Seconds left, for a socket timeout; raises DeadlineExceeded once none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(self)
        return left

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


class _Watch:
    __slots__ = ("at", "cut", "deadline", "done")

    def __init__(self, at: float, cut: Callable[[], None], deadline: Deadline):
        self.at, self.cut, self.deadline, self.done = at, cut, deadline, False


class Watchdog:
    """Calls `cut()` for every watch still open WATCHDOG_GRACE seconds after its deadline. One thread, started on
    first use, sleeping until the earliest watch is due; thousands of open watches cost a heap entry each."""

    def __init__(self, grace: float = WATCHDOG_GRACE):
        self.grace = grace
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self.cuts = 0  # how many times it had to act (each one is logged: a per-operation timeout was missed)

    @contextlib.contextmanager
    def watching(self, deadline: Deadline, cut: Callable[[], None]) -> Iterator[None]:
        """While the block runs, `cut()` is called if it is still running WATCHDOG_GRACE after `deadline`."""
        watch = _Watch(deadline.at + self.grace, cut, deadline)
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="delivery-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (watch.at, next(self._order), watch))
            self._changed.notify()
        try:
            yield
        finally:
            watch.done = True  # its heap entry is dropped when it comes due

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = None if not self._heap else self._heap[0][0] - time.monotonic()
                    self._changed.wait(timeout)
                _at, _order, watch = heapq.heappop(self._heap)
            if watch.done:
                continue
            self.cuts += 1
            watch.deadline.was_cut = True
            log.warning("deadline.watchdog_cut phase=%r", watch.deadline.phase)
            try:
                watch.cut()
            except Exception:  # noqa: BLE001 - the watchdog must outlive any one cut
                log.exception("deadline.watchdog_cut_failed phase=%r", watch.deadline.phase)


watchdog = Watchdog()
