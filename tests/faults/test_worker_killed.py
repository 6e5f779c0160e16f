"""A worker SIGKILLed in the middle of a run, and two workers sharing one queue: nothing lost, nothing sent twice
except the one letter a kill can catch between the server's 250 and the worker's commit."""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults.conftest import assert_each_sent_once, default_redis_kind, duplicates_of, running_stack
from tests.support.waiting import wait_for
from webapp.models import utcnow

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def stack(drill, tmp_path_factory, database_url, certificate_authority, mail_sink):
    workdir = tmp_path_factory.mktemp("faults-workers")
    with running_stack(default_redis_kind(), workdir, database_url, certificate_authority[1], [mail_sink]) as stack:
        stack.beat()
        yield stack


@pytest.fixture
def sink(mail_sink, stack):
    mail_sink.reset()
    yield mail_sink
    stack.stop_workers()
    mail_sink.reset()


def test_worker_killed_mid_run_then_replaced(stack, sink, report):
    total, kill_at = 300, 100  # 100 supporters writing to 3 offices each
    sink.script.data_delay = 0.02  # a slow server: it thinks before answering each DATA
    doomed = stack.worker("doomed", concurrency=1)
    killed = threading.Event()
    killed_at: list[float] = []
    killed_wall: list = []

    def crash(accepted: int) -> None:
        # Inside the server, after it kept message `kill_at` and before the worker hears 250.
        if accepted == kill_at and not killed.is_set():
            doomed.kill()
            killed_at.append(time.monotonic())
            killed_wall.append(utcnow())
            killed.set()

    sink.on_accept = crash
    started = time.monotonic()
    stack.submit(sink, 100, letters_each=3)
    assert killed.wait(60), "the worker never reached the kill point"
    replacement = stack.worker("replacement", concurrency=1)
    counts = stack.wait_terminal(total)
    recovered = time.monotonic() - killed_at[0]

    ids = sink.message_ids()
    duplicates = duplicates_of(sink)
    extra = sum(n - 1 for n in duplicates.values())
    # The letter the kill caught: sent again once its lease ran out and the sweeper queued it.
    caught = [letter for letter in stack.letters() if f"<outcry.{letter.id}@example.org>" in duplicates]
    caught_after = ", ".join(f"{(letter.finished_at - killed_wall[0]).total_seconds():.1f}s" for letter in caught)
    report(
        f"letters={total} sent={counts['sent']} kill=SIGKILL when the server kept message {kill_at} "
        f"received={sum(ids.values())} distinct={len(ids)} duplicates={extra} {sorted(duplicates)} "
        f"caught_letter_resent_after={caught_after or '-'} all_sent_after_kill={recovered:.1f}s "
        f"run={time.monotonic() - started:.1f}s replacement_sent={replacement.count('letter.sent ')}"
    )
    assert counts == {"sent": total}
    assert len(ids) == total, "every letter reached the server"
    assert extra <= 1, f"at most one duplicate per kill, got {duplicates}"
    assert stack.tallies()["sent"] == total
    # Deleted right after the last letter is recorded (not before): wait for it, a bound that only catches one kept.
    wait_for(lambda: stack.credentials_left() == 0, timeout=30, what="every password to be deleted")


def test_two_workers_share_one_queue(stack, sink, report):
    total = 1000  # 250 supporters writing to 4 offices each
    first, second = stack.workers("first", "second", concurrency=2)
    started = time.monotonic()
    stack.submit(sink, 250, letters_each=4)
    written = time.monotonic() - started
    counts = stack.wait_terminal(total, timeout=150)
    elapsed = time.monotonic() - started

    ids = sink.message_ids()
    duplicates = duplicates_of(sink)
    tallies = stack.tallies()
    shares = {process.log.stem: process.count("letter.sent ") for process in (first, second)}
    report(
        f"letters={total} sent={counts['sent']} received={sum(ids.values())} distinct={len(ids)} "
        f"duplicates={len(duplicates)} totals.sent={tallies['sent']} per_worker={shares} "
        f"written_in={written:.1f}s all_sent_in={elapsed:.1f}s ({total / elapsed:.0f} letters/s)"
    )
    assert counts == {"sent": total}
    assert_each_sent_once(ids, duplicates, total)
    assert tallies["sent"] == total
    assert all(shares.values()), f"both workers delivered: {shares}"
    # Deleted right after the last letter is recorded (not before): wait for it, a bound that only catches one kept.
    wait_for(lambda: stack.credentials_left() == 0, timeout=30, what="every password to be deleted")
