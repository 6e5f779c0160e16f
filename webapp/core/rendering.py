"""Organizer templates rendered and checked in render processes with hard memory and time limits; the one check
every editor uses.

The template code itself is in webapp/core/sandbox.py and runs only in small child processes (a few per
serving process, started on first use): the process that serves requests never parses or renders template text,
so no template can take its memory or its time. Each render process has its address space capped and a CPU
budget per request (see sandbox.py); here, every request also has one wall-clock deadline, WALL_SECONDS from the
moment it asks, for the whole conversation: the wait for a free render process (itself at most WAIT_SECONDS), the
start of a new one, and the render. A render process still working at the deadline is killed and the template's
error says so. A render process that died or was killed is replaced on the next request.

When no render process can take a request — none can be started in time, every one stayed busy past WAIT_SECONDS,
the wait and the start left its render too little of the deadline, or the one writing it was killed from outside
(SIGKILL: the OOM killer) — the render raises RendererUnavailable: not the template's fault nor the supporter's, a
503 to try again later (the template check says so as its one problem).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webapp.core.sandbox import (
    BODY_OUTPUT_MAX,
    CPU_SECONDS,
    MEMORY_LIMIT_BYTES,
    RANGE_MAX,
    SAMPLE_SUPPORTER,
    SAMPLE_SUPPORTERS,
    SAMPLE_TARGETS,
    SEQUENCE_MAX,
    SUBJECT_OUTPUT_MAX,
    VARIABLES,
    LetterTemplateError,
    context_for,
    supporter_variables,
)

if TYPE_CHECKING:
    from webapp.models import Target

__all__ = [
    "BODY_OUTPUT_MAX",
    "RANGE_MAX",
    "SAMPLE_SUPPORTER",
    "SAMPLE_SUPPORTERS",
    "SAMPLE_TARGETS",
    "SEQUENCE_MAX",
    "SUBJECT_OUTPUT_MAX",
    "VARIABLES",
    "LetterTemplateError",
    "RenderPool",
    "RenderedLetter",
    "RendererUnavailable",
    "check_template",
    "context_for",
    "render",
    "render_many",
    "supporter_variables",
    "target_variables",
    "unavailable_problem",
]

log = logging.getLogger(__name__)


def target_variables(target: Target) -> dict[str, Any]:
    """What a template sees as `target` (documented in letter_templates/README.md)."""
    role = target.role
    salutation = target.salutation or (f"{role} {target.last_name}" if role and target.last_name else target.name)
    return {
        "id": target.id,
        "kind": target.kind,
        "name": target.name,
        "first_name": target.first_name,
        "last_name": target.last_name,
        "title": target.title,
        "organization": target.organization,
        "salutation": salutation,
        "role": role,
        "state": target.state or "",
        "district": target.district,
    }


SANDBOX_SCRIPT = Path(__file__).with_name("sandbox.py")
RENDER_PROCESSES = 2  # per serving process: renders take about a millisecond, so two rarely keep anyone waiting
# The one deadline of a request, however busy the machine: waiting, starting a render process (a cold start takes
# about 0.2 s) and rendering (CPU_SECONDS, sandbox.py, is the usual limit there) all come out of it.
WALL_SECONDS = 10.0
WAIT_SECONDS = 5.0  # of which waiting for a free render process, at most, before the answer is "try again"
RETRY_AFTER_SECONDS = 30  # what a 503 tells the supporter's browser (and an API client) to wait
_FRAME_BYTES = 4


class RendererUnavailable(Exception):
    """No render process could take this request: none could be started, all stayed busy past the wait, or the one
    writing it was killed from outside. Nobody's template or words are at fault; try again in a little while."""

    retry_after_seconds = RETRY_AFTER_SECONDS


class RenderProcessLost(Exception):
    """The render process overstayed the deadline, died, or answered nonsense; it has been killed."""


class _Unstarted(RenderProcessLost):
    """No render process could be started (out of processes or memory, a broken install)."""


class _Gone(RenderProcessLost):
    """The render process had ended before it was sent anything (killed while idle): ask another."""


class _Killed(RenderProcessLost):
    """The render process was killed from outside (SIGKILL: the OOM killer, an operator) while it worked."""


class _Overstayed(RenderProcessLost):
    """The render process was still working at the deadline; it has been killed."""


class _RenderProcess:
    """One child running `sandbox.serve()`, spoken to with length-prefixed JSON over its stdin and stdout."""

    def __init__(self, memory_bytes: int, cpu_seconds: float, deadline: float):
        try:
            self._start(memory_bytes, cpu_seconds, deadline)
        except (OSError, RenderProcessLost) as exc:
            if hasattr(self, "process"):
                self.kill()
            log.error("render.process_unstarted error=%s", exc)
            raise _Unstarted(str(exc)) from None

    def _start(self, memory_bytes: int, cpu_seconds: float, deadline: float) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and file, no shell
            [sys.executable, "-I", str(SANDBOX_SCRIPT), str(memory_bytes), repr(float(cpu_seconds))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a crash's traceback could quote template lines; the exit code is logged
            close_fds=True,
            # Nothing of the server's: no SECRET_KEY or DATABASE_URL in its environment, not in the project folder.
            env={"PATH": os.defpath},
            cwd="/",
        )
        # poll(), not select(): a busy gunicorn process may hold more than select()'s 1,024 descriptors.
        self._poller = select.poll()
        self._poller.register(self.process.stdout.fileno(), select.POLLIN)
        if self._read(deadline) != b"ready":
            self.kill()
            raise RenderProcessLost("the render process did not start")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        payload = json.dumps(request).encode()
        try:
            self.process.stdin.write(len(payload).to_bytes(_FRAME_BYTES, "big") + payload)
            self.process.stdin.flush()
        except OSError:
            self.kill()
            raise _Gone("the render process had gone") from None
        answer = self._read(deadline)
        try:
            return json.loads(answer)
        except ValueError:
            self.kill()
            raise RenderProcessLost("the render process answered nonsense") from None

    def _read(self, deadline: float) -> bytes:
        header = self._read_exactly(_FRAME_BYTES, deadline)
        return self._read_exactly(int.from_bytes(header, "big"), deadline)

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        fd = self.process.stdout.fileno()
        chunks, missing = [], size
        while missing:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poller.poll(max(1, int(remaining * 1000))):
                self.kill()
                log.warning("render.process_killed reason=deadline")
                raise _Overstayed("the render process overstayed its deadline")
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                code = self.process.wait()
                log.warning("render.process_ended code=%s", code)
                if code == -signal.SIGKILL:  # not by us (we kill only after a deadline, and say so above)
                    raise _Killed("the render process was killed from outside")
                raise RenderProcessLost(f"the render process ended (exit code {code})")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()

    def close(self) -> None:
        """Let it finish: closing its stdin ends its loop."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()  # if it is still there; and closes its pipes either way


class RenderPool:
    """A few render processes for this serving process; thread-safe. Every template parse and render goes here."""

    def __init__(
        self,
        size: int = RENDER_PROCESSES,
        *,
        memory_bytes: int = MEMORY_LIMIT_BYTES,
        cpu_seconds: float = CPU_SECONDS,
        wall_seconds: float = WALL_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ):
        self.memory_bytes, self.cpu_seconds, self.wall_seconds = memory_bytes, cpu_seconds, wall_seconds
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_RenderProcess] = []
        self._lock = threading.Lock()
        self.started = 0  # render processes started so far (the tests watch replacements)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request to an idle render process (starting one if needed) and return its answer.

        The whole of it (the wait for a free process, a start, the render) has one deadline, `wall_seconds` from
        now. Raises RenderProcessLost if the process rendered past a full `wall_seconds`, died or answered nonsense,
        and RendererUnavailable if none was free within `wait_seconds`, none could start before the deadline, the
        wait and the start left the render less than half of `wall_seconds` and it overstayed that, or the process
        was killed from outside."""
        asked = time.monotonic()
        deadline = asked + self.wall_seconds
        if not self._slots.acquire(timeout=min(self.wait_seconds, self.wall_seconds)):
            log.warning("render.pool_busy waited=%.1fs", time.monotonic() - asked)
            raise RendererUnavailable("every render process stayed busy")
        try:
            for attempt in (1, 2):
                process = self._take(deadline)
                waited = time.monotonic() - asked  # for a free slot, and for a start: not the template's time
                try:
                    answer = process.ask(request, deadline)
                except _Overstayed:
                    process.kill()
                    if waited > self.wall_seconds / 2:  # the render had less than half its time: not too slow
                        log.warning("render.deadline_after_wait waited=%.1fs", waited)
                        raise RendererUnavailable("the wait for a render process left too little time") from None
                    raise
                except _Gone:
                    if attempt == 2:  # killed twice before it could be asked: something outside is killing them
                        raise RendererUnavailable("the render processes were killed before they could answer") from None
                    continue
                except _Killed:
                    process.kill()  # closes its pipes
                    raise RendererUnavailable("the render process was killed from outside") from None
                except RenderProcessLost:
                    process.kill()
                    raise
                break
            if answer.get("ending"):
                process.close()  # it ran out of memory or time and ends itself; the next request starts another
            else:
                with self._lock:
                    self._idle.append(process)  # before the slot is given back: never more processes than slots
            return answer
        except _Unstarted:
            raise RendererUnavailable("no render process could be started") from None
        finally:
            self._slots.release()

    def _take(self, deadline: float) -> _RenderProcess:
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.alive:
                    return process
                process.kill()
            self.started += 1
        return _RenderProcess(self.memory_bytes, self.cpu_seconds, deadline)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.close()

    # ---- the two things a pool does -------------------------------------------------------------------------

    def render_many(self, jobs: list[tuple[str, str, dict[str, Any]]]) -> list[RenderedLetter]:
        """Render several letters in one round trip; raises the first LetterTemplateError."""
        if not jobs:
            return []
        try:
            answer = self.ask({"op": "render", "jobs": [list(job) for job in jobs]})
        except RenderProcessLost as exc:
            raise _lost(exc, self.wall_seconds) from None
        if "fatal" in answer:
            raise LetterTemplateError("body", answer["fatal"])
        letters = []
        for result in answer["results"]:
            if isinstance(result, dict):
                raise LetterTemplateError(**result["error"])
            letters.append(RenderedLetter(*result))
        return letters

    def check(
        self, subject: str, body: str, *, target_kinds: list[str] | None = None, require_note: bool = True
    ) -> list[LetterTemplateError]:
        request = {
            "op": "check",
            "subject": subject,
            "body": body,
            "target_kinds": target_kinds,
            "require_note": require_note,
        }
        try:
            answer = self.ask(request)
        except RendererUnavailable:  # the organizer's form is shown again with this, their text kept
            return [unavailable_problem()]
        except RenderProcessLost as exc:
            return [_lost(exc, self.wall_seconds)]
        if "fatal" in answer:
            return [LetterTemplateError("body", answer["fatal"])]
        return [LetterTemplateError(**problem) for problem in answer["problems"]]


def unavailable_problem() -> LetterTemplateError:
    """What the organizer's template check says when no render process could take it: not the template's fault."""
    return LetterTemplateError(
        "body", "the server could not start a render process, or none was free, just now; try again in a minute"
    )


def _lost(exc: RenderProcessLost, wall_seconds: float) -> LetterTemplateError:
    if "deadline" in str(exc):
        message = (
            f"this takes longer to write than a letter may ({wall_seconds:g} s), so it was stopped: look for text "
            "built over and over, or long loops"
        )
    else:
        message = "writing this letter stopped the renderer (it needed too much memory or time): simplify it"
    return LetterTemplateError("body", message)


# One pool per process: a forked child (gunicorn, Celery) must not talk to its parent's render processes.
_pool: RenderPool | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def pool() -> RenderPool:
    global _pool, _pool_pid  # noqa: PLW0603 - per-process state, reset in forked children
    if _pool is None or _pool_pid != os.getpid():
        with _pool_lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool, _pool_pid = RenderPool(), os.getpid()
    return _pool


def _forget_pool_in_child() -> None:
    global _pool  # noqa: PLW0603
    _pool = None


def _close_pool() -> None:
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close()


os.register_at_fork(after_in_child=_forget_pool_in_child)
atexit.register(_close_pool)


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    body: str


def render(subject: str, body: str, context: dict[str, Any]) -> RenderedLetter:
    """Render both parts; supporter text inside the context is data and is never evaluated."""
    return pool().render_many([(subject, body, context)])[0]


def render_many(jobs: list[tuple[str, str, dict[str, Any]]]) -> list[RenderedLetter]:
    """Render several (subject, body, context) at once: a submission's letters in one round trip."""
    return pool().render_many(jobs)


def check_template(
    subject: str, body: str, *, target_kinds: list[str] | None = None, require_note: bool = True
) -> list[LetterTemplateError]:
    """Every problem with a template, found by parsing it and rendering it for each kind it fits, as each of
    several sample supporters (SAMPLE_SUPPORTERS), within the render limits.

    The organizer form, `flask letters check` and the tests all call this one function. Letters
    must give the supporter's note a place; call scripts (`require_note=False`) need not.
    """
    return pool().check(subject, body, target_kinds=target_kinds, require_note=require_note)
