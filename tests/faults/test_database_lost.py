"""PostgreSQL restarted while letters are being delivered: no letter lost, none counted twice.

Needs a PostgreSQL server this test may restart: DATABASE_URL pointing at it and OUTCRY_TEST_PG_CTL holding the
pg_ctl command for its data directory (CI's second run sets both, see .ci/run), e.g.
    OUTCRY_TEST_PG_CTL="runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/ci/pg"
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time

import pytest

from tests.faults.conftest import assert_each_sent_once, default_redis_kind, duplicates_of, running_stack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.faults

SUBMISSIONS, LETTERS_EACH = 50, 3
TOTAL = SUBMISSIONS * LETTERS_EACH


@pytest.fixture(scope="module")
def pg_ctl(database_url) -> list[str]:
    if not database_url.startswith(("postgresql", "postgres")):
        pytest.skip("needs PostgreSQL: DATABASE_URL is SQLite in this run (CI's second run restarts a real server)")
    command = os.environ.get("OUTCRY_TEST_PG_CTL")
    if not command:
        pytest.skip("set OUTCRY_TEST_PG_CTL to the pg_ctl command for DATABASE_URL's data directory to run this")
    return shlex.split(command)


@pytest.fixture(scope="module")
def stack(pg_ctl, drill, tmp_path_factory, database_url, certificate_authority, mail_sink):
    workdir = tmp_path_factory.mktemp("faults-database")
    with running_stack(default_redis_kind(), workdir, database_url, certificate_authority[1], [mail_sink]) as stack:
        stack.beat()
        stack.worker("database", concurrency=2)
        yield stack


def test_postgres_restarted_during_delivery(stack, pg_ctl, mail_sink, tmp_path, report):
    mail_sink.reset()
    mail_sink.script.data_delay = 0.02
    stack.submit(mail_sink, SUBMISSIONS, letters_each=LETTERS_EACH)
    wait_for(lambda: len(mail_sink.received) >= TOTAL // 4, timeout=60, interval=0.02, what="delivery to be under way")
    at_restart = len(mail_sink.received)
    started = time.monotonic()
    with open(tmp_path / "pg_ctl.log", "ab") as log:  # the restarted server keeps writing its log here
        subprocess.run([*pg_ctl, "restart", "-m", "fast", "-w", "-t", "60"], stdout=log, stderr=log, check=True)
    down_for = time.monotonic() - started
    counts = stack.wait_terminal(TOTAL)
    recovered = time.monotonic() - started

    ids, duplicates = mail_sink.message_ids(), duplicates_of(mail_sink)
    tallies = stack.tallies()
    errors = sum(process.count("OperationalError") for process in stack.processes)
    report(
        f"letters={TOTAL} restart (pg_ctl restart -m fast, {down_for:.1f}s) after {at_restart} accepted; "
        f"sent={counts['sent']} received={sum(ids.values())} distinct={len(ids)} duplicates={len(duplicates)} "
        f"totals.sent={tallies['sent']} database_errors_in_logs={errors} all_sent_after_restart={recovered:.1f}s"
    )
    assert counts == {"sent": TOTAL}, "no letter lost"
    assert tallies["sent"] == TOTAL, "none counted twice"
    why = f"a database outage is not a crash: the worker records what it sent, {duplicates}"
    assert_each_sent_once(ids, duplicates, TOTAL, why)
