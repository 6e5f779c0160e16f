"""Redis restarted in the middle of a run (the embedded server and a Redis server), and Redis flushed: the queue
may be lost, the letters are not, because the outbox in the database is the truth and the sweeper re-queues it."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import (
    REDIS_BINARIES,
    assert_each_sent_once,
    default_redis_kind,
    duplicates_of,
    running_stack,
)
from tests.support.mailserver import MailServer
from tests.support.waiting import wait_for
from webapp.delivery.service import EXPIRED

pytestmark = pytest.mark.faults

SUBMISSIONS, LETTERS_EACH = 40, 3
TOTAL = SUBMISSIONS * LETTERS_EACH


# The suite's own kind of Redis last, so that the flush test reuses its stack.
KINDS = sorted(("embedded", "server"), key=lambda kind: kind == default_redis_kind())


@pytest.fixture(scope="module")
def stacks(drill, tmp_path_factory, database_url, certificate_authority, mail_sink):
    """The stack for a kind of Redis, started on first use. One at a time: two sweepers on one
    database would hand each other's letters to a Redis that does not hold their passwords."""
    current: dict = {}

    def close() -> None:
        if current:
            current.pop("context").__exit__(None, None, None)
            current.clear()

    def get(kind: str):
        if current.get("kind") != kind:
            close()
            workdir = tmp_path_factory.mktemp(f"faults-redis-{kind}")
            context = running_stack(
                kind, workdir, database_url, certificate_authority[1], [mail_sink], DELIVERY_QUEUE_LEASE="4"
            )
            stack = context.__enter__()
            current.update(kind=kind, context=context, stack=stack)
            stack.beat()
            stack.worker(f"{kind}-worker", concurrency=2)
        return current["stack"]

    yield get
    close()


@pytest.fixture
def sink(mail_sink):
    mail_sink.reset()
    yield mail_sink
    mail_sink.reset()


def _after_accepted(sink: MailServer, count: int) -> None:
    wait_for(lambda: len(sink.received) >= count, timeout=60, interval=0.02, what=f"{count} letters to arrive")


@pytest.mark.parametrize("kind", KINDS)
def test_redis_restarted_mid_run(stacks, sink, kind, report):
    if not REDIS_BINARIES.get(kind):
        pytest.skip(f"no {kind} redis-server binary here")
    stack = stacks(kind)
    sink.script.data_delay = 0.01
    stack.submit(sink, SUBMISSIONS, letters_each=LETTERS_EACH)
    _after_accepted(sink, TOTAL // 3)
    at_restart = len(sink.received)
    with stack.supervised() as restarts:
        stack.redis.restart(down_for=2.0)
        back = time.monotonic()
        counts = stack.wait_terminal(TOTAL)
        recovered = time.monotonic() - back

    ids, duplicates = sink.message_ids(), duplicates_of(sink)
    swept = sum(process.count("outbox.swept ") for process in stack.processes)
    report(
        f"redis={kind} letters={TOTAL} restart after {at_restart} accepted, down 2.0s; sent={counts['sent']} "
        f"received={sum(ids.values())} distinct={len(ids)} duplicates={len(duplicates)} sweeps_that_requeued={swept} "
        f"all_sent_after_redis_back={recovered:.1f}s credentials_left={stack.credentials_left()} "
        f"worker_restarts={restarts}"
    )
    assert counts == {"sent": TOTAL}, "the append-only file kept the credentials: every letter goes out"
    assert_each_sent_once(ids, duplicates, TOTAL)
    assert stack.tallies()["sent"] == TOTAL
    # A delete lost while Redis was down is caught up by the sweeper.
    wait_for(lambda: stack.credentials_left() == 0, timeout=30, what="the passwords to be deleted")


def test_redis_flushed_mid_run(stacks, sink, report):
    """FLUSHALL: queue, kombu's bindings and the waiting passwords all gone. Letters whose password went
    with it fail with "please send again"; the rest are sent; none stays pending; new letters still flow."""
    stack = stacks(default_redis_kind())
    sink.script.data_delay = 0.01
    stack.submit(sink, SUBMISSIONS, letters_each=LETTERS_EACH)
    _after_accepted(sink, TOTAL // 3)
    at_flush = len(sink.received)
    stack.redis.flushall()
    flushed = time.monotonic()
    # Publishing after the flush still reaches a worker (kombu's binding keys are gone too).
    (late_id,) = stack.submit(sink, 1, letters_each=LETTERS_EACH, start=SUBMISSIONS)
    counts = stack.wait_terminal(TOTAL + LETTERS_EACH)
    recovered = time.monotonic() - flushed

    ids, duplicates = sink.message_ids(), duplicates_of(sink)
    failed = [letter for letter in stack.letters() if letter.status == "failed"]
    late = [letter for letter in stack.letters() if letter.submission_id == late_id]
    tallies = stack.tallies()
    report(
        f"redis={stack.redis.kind} letters={TOTAL}+{LETTERS_EACH} flushed after {at_flush} accepted; "
        f"sent={counts['sent']} failed_password_lost={counts['failed']} pending=0 duplicates={len(duplicates)} "
        f"letters_after_flush={[letter.status for letter in late]} all_terminal_after_flush={recovered:.1f}s "
        f"credentials_left={stack.credentials_left()}"
    )
    assert counts["queued"] == counts["sending"] == 0
    assert counts["sent"] + counts["failed"] == TOTAL + LETTERS_EACH
    assert counts["sent"] >= at_flush
    assert all(letter.error == EXPIRED for letter in failed)
    assert [letter.status for letter in late] == ["sent"] * LETTERS_EACH
    assert_each_sent_once(ids, duplicates, counts["sent"])
    assert (tallies["sent"], tallies["failed"]) == (counts["sent"], counts["failed"])
    # Deleted right after the last letter is recorded (not before): wait for it, a bound that only catches one kept.
    wait_for(lambda: stack.credentials_left() == 0, timeout=30, what="every password to be deleted")
