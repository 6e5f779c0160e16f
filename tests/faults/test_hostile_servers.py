"""Mail servers that try to hold a worker forever: a trickling greeting, a flood of reply lines, a TLS handshake at a
crawl, a server that hangs after DATA. While they hold their connections, a well-behaved supporter's letter is
delivered; every hostile letter ends `failed` with a reason a supporter can read, within its deadlines and retry
schedule; nothing is sent twice; the worker's memory stays bounded. Real servers on sockets, a real worker process
(the threads pool `make run` and compose run), short deadlines so the test stays quick."""

from __future__ import annotations

import time

import psutil
import pytest

from tests.faults.conftest import default_redis_kind, running_stack
from tests.support.hostile import HostileServer
from tests.support.mailserver import MailServer, Script
from tests.support.waiting import wait_for

pytestmark = pytest.mark.faults

PHASE = 3.0  # SMTP_TIMEOUT: each phase's deadline (a loaded CI machine's flood read took more than 1.5 s once)
DELAYS = (0.3, 0.6)  # two retries: three tries in all
TRIES = len(DELAYS) + 1
HOLD = 300.0  # what the hostile servers would hold a connection for, left alone
GAVE_UP = f"We tried {TRIES} times and gave up; please send again later."


@pytest.fixture(scope="module")
def hostile(certificate_authority):
    ca, path = certificate_authority
    hangs = MailServer(ca, path).start()  # STARTTLS and AUTH work; DATA is never answered
    servers = {
        "trickle": HostileServer("trickle", pace=0.2, hold=HOLD).start(),
        "flood": HostileServer("flood", hold=HOLD).start(),
        "slow_tls": HostileServer("slow_tls", pace=0.2, hold=HOLD).start(),
        "hang_after_data": hangs,
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def stack(drill, tmp_path_factory, database_url, certificate_authority, mail_sink, hostile):
    workdir = tmp_path_factory.mktemp("faults-hostile")
    settings = {
        "SMTP_TIMEOUT": str(PHASE),
        "DELIVERY_RETRY_DELAYS": ",".join(str(delay) for delay in DELAYS),
    }
    servers = [mail_sink, *hostile.values()]
    with running_stack(default_redis_kind(), workdir, database_url, certificate_authority[1], servers, **settings) as s:
        s.beat()
        s.worker("hostile", concurrency=200)  # make run's and compose's default
        yield s


def test_hostile_servers_cost_only_their_own_letters(stack, hostile, mail_sink, report):
    mail_sink.reset()
    hostile["hang_after_data"].reset()
    hostile["hang_after_data"].script = Script(data_delay=HOLD)
    worker = psutil.Process(next(p for p in stack.processes if p.kind == "worker").process.pid)
    rss_before = worker.memory_info().rss

    started = time.monotonic()
    submitted = {}
    for number, (name, server) in enumerate(hostile.items()):
        (submitted[name],) = stack.submit(server, 1, start=number)
    # Several hostile conversations of each kind at once, holding worker threads.
    for number, (_name, server) in enumerate(hostile.items()):
        stack.submit(server, 4, start=100 + 10 * number)
    wait_for(lambda: all(server.connections for server in hostile.values()), timeout=30, what="every hostile server")
    (good,) = stack.submit(mail_sink, 1, start=999)

    def delivered() -> bool:
        return any(letter.submission_id == good and letter.status == "sent" for letter in stack.letters())

    wait_for(delivered, timeout=30, interval=0.1, what="the well-behaved letter while hostile servers hold on")
    good_after = time.monotonic() - started

    total = len(hostile) * 5 + 1
    stack.wait_terminal(total, timeout=120)
    rss_after = worker.memory_info().rss
    letters = {letter.submission_id: letter for letter in stack.letters()}
    reasons = {name: letters[submission].error for name, submission in submitted.items()}
    tries = {name: letters[submission].attempts for name, submission in submitted.items()}
    for name, server in hostile.items():
        report(f"{name}: failed after {tries[name]} tries, connections={server.connections}: {reasons[name]!r}")
    report(
        f"well-behaved letter sent {good_after:.1f}s after the hostile ones began; worker RSS "
        f"{rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MB; flood server wrote "
        f"{hostile['flood'].sent_bytes / 2**20:.1f} MB"
    )

    assert all(letter.status == "failed" for letter in letters.values() if letter.submission_id != good)

    def too_long(phase: str) -> str:
        return f"Your mail server took too long while {phase} (more than {PHASE:g} seconds), so we stopped. {GAVE_UP}"

    assert reasons["trickle"] == too_long("connecting and signing in")
    assert reasons["slow_tls"] == too_long("connecting and signing in")
    assert reasons["hang_after_data"] == too_long("sending the letter")
    assert reasons["flood"] == (
        "Your mail server sent an answer far longer than mail servers send, so we stopped talking to it and "
        "nothing was sent."
    )
    assert tries == {"trickle": TRIES, "flood": 1, "slow_tls": TRIES, "hang_after_data": TRIES}
    assert mail_sink.message_ids() and all(count == 1 for count in mail_sink.message_ids().values())
    assert hostile["hang_after_data"].received == [], "a letter to the hanging server was never accepted"
    # Generous: the flood server wrote far more than this, and the worker read at most a reply's cap of it.
    assert rss_after - rss_before < 100 * 2**20, "the worker's memory grew with what a hostile server sent"
