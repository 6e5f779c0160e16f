"""The supporter's mail server misbehaving: each fault ends in the right state, with the right reason, within the
retry schedule, and the password is deleted afterwards. All cases run at once, each against its own server."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from tests.faults.conftest import default_redis_kind, running_stack
from tests.support.mailserver import MailServer, Script, SilentServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.faults

DELAYS = (0.3, 0.6, 0.9)  # three retries: four tries in all
JITTER = 0.1
TIMEOUT = 3.0  # SMTP_TIMEOUT: how long a silent server is waited for (room for a busy machine's TLS and AUTH; at most DELIVERY_SEND_LEASE - 2)
TRIES = len(DELAYS) + 1
GAVE_UP = f"We tried {TRIES} times and gave up; please send again later."


@dataclass
class Case:
    name: str
    status: str  # what every letter of the submission ends as
    tries: tuple[int, ...]  # how many tries each of its letters took
    reason: str | None = None  # the letters' error, as the supporter reads it
    script: dict = field(default_factory=dict)
    silent: bool = False
    starttls: bool = True
    password: str | None = None

    @property
    def letters(self) -> int:
        return len(self.tries)


CASES = [
    Case("421 on connect, twice", "sent", (3,), script={"connect": ["421 4.3.2 Too busy, come back later"] * 2}),
    Case(
        "421 on connect, always",
        "failed",
        (TRIES,),
        f"Your mail server asked us to try again later (code 421). {GAVE_UP}",
        script={"connect": ["421 4.3.2 Too busy, come back later"] * 10},
    ),
    # Both letters wait: after a 4xx the connection is not trusted for the rest of the batch.
    Case("451 after RCPT, twice", "sent", (3, 3), script={"rcpt": ["451 4.3.0 Greylisted, try again"] * 2}),
    # The first letter was accepted before the line went dead: it is not sent again.
    Case("disconnect mid-DATA, twice", "sent", (1, 3), script={"data_cuts": [False, True, True]}),
    Case(
        "accepts, never greets",
        "failed",
        (TRIES,),
        f"Your mail server took too long while connecting and signing in (more than {TIMEOUT:g} seconds), so we "
        f"stopped. {GAVE_UP}",
        silent=True,
    ),
    Case(
        "550 after RCPT",
        "failed",
        (1,),
        "The recipient's server refused the letter.",
        script={"rcpt": ["550 5.1.1 No such user"]},
    ),
    Case(
        "535 wrong password",
        "failed",
        (1,),
        "Your mail server rejected the user name or password. Check them (Gmail, Yahoo and iCloud need an app "
        "password) and send again.",
        password="not the password",
    ),
    Case(
        "554 greeting",
        "failed",
        (1,),
        "Your mail server refused the connection.",
        script={"connect": ["554 5.3.2 No SMTP service here"]},
    ),
    Case(
        "553 sender",
        "failed",
        (1,),
        "Your mail server refused to send from your address. Use the email address of the account you log in with.",
        script={"mail": ["553 5.7.1 Sender address rejected: not owned by user"]},
    ),
    Case(
        "554 content",
        "failed",
        (1,),
        "Your mail server refused the letter itself (code 554), often because it took it for spam; nothing was sent.",
        script={"data": ["554 5.6.0 Message content rejected"]},
    ),
    # A temporary sign-in failure is not a wrong password: tried again, and the letter goes out.
    Case("454 AUTH, twice", "sent", (3,), script={"auth": ["454 4.7.0 Temporary authentication failure"] * 2}),
    Case(
        "no STARTTLS",
        "failed",
        (1,),
        "Your mail server doesn't offer an encrypted connection on this port, so your password wasn't sent. "
        "Try port 465 with SSL/TLS.",
        starttls=False,
    ),
]


def _bounds(case: Case) -> tuple[float, float]:
    """Seconds from submission to the last letter's end: at least the backoff, at most backoff with jitter,
    a timeout per try, and room for a busy machine."""
    tries = max(case.tries)
    waited = sum(DELAYS[: tries - 1])
    most = waited * (1 + JITTER) + tries * (TIMEOUT if case.silent else 0) + 2.0 + tries
    return waited, most


@pytest.fixture(scope="module")
def servers(certificate_authority):
    ca, path = certificate_authority
    started = {
        case.name: (SilentServer() if case.silent else MailServer(ca, path, starttls=case.starttls)).start()
        for case in CASES
    }
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def stack(drill, tmp_path_factory, database_url, certificate_authority, servers):
    workdir = tmp_path_factory.mktemp("faults-smtp")
    settings = {
        "SMTP_TIMEOUT": str(TIMEOUT),
        "DELIVERY_RETRY_DELAYS": ",".join(str(delay) for delay in DELAYS),
        "DELIVERY_RETRY_JITTER": str(JITTER),
    }
    kind = default_redis_kind()
    with running_stack(
        kind, workdir, database_url, certificate_authority[1], list(servers.values()), **settings
    ) as stack:
        stack.worker("smtp-faults", concurrency=4)
        yield stack


def test_smtp_faults_end_right_within_the_schedule(stack, servers, report):
    submitted: dict[str, tuple[str, float]] = {}
    for case in CASES:
        server = servers[case.name]
        if not case.silent:
            server.reset()
            server.script = Script(**case.script)
        extra = {"password": case.password} if case.password else {}
        (submission_id,) = stack.submit(server, 1, letters_each=case.letters, start=len(submitted), **extra)
        submitted[case.name] = (submission_id, time.monotonic())
    total = sum(case.letters for case in CASES)
    stack.wait_terminal(total, timeout=60)
    wait_for(lambda: stack.credentials_left() == 0, timeout=30, what="every password to be deleted")

    by_submission: dict[str, list] = {}
    for letter in stack.letters():
        by_submission.setdefault(letter.submission_id, []).append(letter)
    problems = []
    for case in CASES:
        submission_id, started = submitted[case.name]
        letters = by_submission[submission_id]
        took = (
            max(letter.finished_at for letter in letters) - min(letter.created_at for letter in letters)
        ).total_seconds()
        least, most = _bounds(case)
        server = servers[case.name]
        seen = [letter.status for letter in letters], [letter.attempts for letter in letters], letters[0].error
        report(
            f"{case.name}: {'/'.join(seen[0])} after {'/'.join(map(str, seen[1]))} tries in {took:.1f}s "
            f"(schedule {least:.1f}–{most:.1f}s), connections={server.connections} "
            f"logins={len(getattr(server, 'auth_attempts', []))} received={len(getattr(server, 'received', []))} "
            f"reason={seen[2]!r}"
        )
        if seen[0] != [case.status] * case.letters or tuple(seen[1]) != case.tries:
            problems.append(f"{case.name}: {seen[0]} after {seen[1]} tries, expected {case.status} after {case.tries}")
        if case.status == "failed" and seen[2] != case.reason:
            problems.append(f"{case.name}: reason {seen[2]!r}, expected {case.reason!r}")
        # Never sooner than the schedule allows; how much later depends on the machine, so it is reported above
        # (timing belongs in bench/), not asserted: a busy CI runner must not fail a correct schedule.
        if took < least:
            problems.append(f"{case.name}: took {took:.1f}s, sooner than the schedule's {least:.1f}s")
        received = server.message_ids() if isinstance(server, MailServer) else {}
        if len(received) != (case.letters if case.status == "sent" else 0) or any(n > 1 for n in received.values()):
            problems.append(f"{case.name}: the server received {dict(received)}")
    assert not problems, "\n".join(problems)
    # A refused password is tried once, never again (providers lock accounts after a few failures).
    assert [ok for _, ok in servers["535 wrong password"].auth_attempts] == [False]
    assert stack.tallies() == {"sent": 1 + 2 + 2 + 1, "failed": 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1, "handed_off": 0}
    # No password went to the server that offered no encryption, and the temporary refusals were not counted
    # against the server's failure budget as wrong passwords.
    assert servers["no STARTTLS"].auth_attempts == []
    assert [ok for _, ok in servers["454 AUTH, twice"].auth_attempts] == [False, False, True]
