"""A conversation cut by our deadline is a temporary failure that says so, whatever the network layer called it.

Real sockets against the hostile servers of tests/support/hostile.py, no worker: smtp.connect() as the engine
calls it, and the HTTPS client the Gmail API and Graph sends use. A slow TLS handshake once came back as an
untrusted connection (a permanent failure, the wrong reason) on a busy machine; these tests slow our side down
on purpose, or take the per-operation timeouts away so that only the watchdog can end the handshake.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import httpx
import pytest

from tests.support.hostile import HostileServer
from tests.support.letters import un_letter
from tests.support.waiting import wait_for
from webapp.delivery import https, smtp, ssrf, transport
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.deadline import WATCHDOG_GRACE, Deadline, DeadlineExceeded
from webapp.delivery.smtp import DeliveryError
from webapp.delivery.ssrf import CheckedAddress

PHASE = 0.5
TOO_LONG = (
    "Your mail server took too long while connecting and signing in (more than 0.5 seconds), so we stopped; "
    "we'll keep trying for a while."
)


def _connect(server: HostileServer, security: str = "starttls", seconds: float = PHASE) -> DeliveryError:
    account = SmtpAccount(host="localhost", port=server.port, security=security, username="u", password="p")
    checked = CheckedAddress(host="localhost", addresses=("127.0.0.1",), port=server.port)
    with pytest.raises(DeliveryError) as raised:
        smtp.connect(account, checked, timeout=seconds, ca_file=None)
    return raised.value


@pytest.fixture
def slow_tls():
    server = HostileServer("slow_tls", pace=0.2, hold=120).start()
    yield server
    server.stop()


def test_a_slow_handshake_is_too_long_even_when_the_worker_reads_late(slow_tls, monkeypatch):
    """A worker slowed by a busy machine reads the 220 to STARTTLS late: the handshake still runs into the
    deadline, and the letter waits for a retry, instead of failing for good as an untrusted connection."""
    send = smtp._Conversation.send

    def late(self, data):
        send(self, data)
        if b"STARTTLS" in (data if isinstance(data, bytes) else data.encode()):
            time.sleep(0.3)  # the server has answered by the time we read

    monkeypatch.setattr(smtp._Conversation, "send", late)
    refused = _connect(slow_tls)
    assert (refused.transient, refused.kind, refused.reason) == (True, "deadline", TOO_LONG)


def test_bytes_ahead_of_the_tls_handshake_are_refused_for_good():
    """What the slow server above must never do: answer the ClientHello before it was sent. Those bytes could
    be anyone's (an injection into the plaintext stream); nothing is sent over that connection."""
    server = HostileServer("early_tls", hold=120).start()
    try:
        refused = _connect(server, seconds=5)
    finally:
        server.stop()
    assert not refused.transient
    assert (
        refused.reason == "Your mail server's encrypted connection could not be trusted, so your password wasn't sent."
    )


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_watchdog_cuts_a_tls_handshake_that_took_no_timeout(security, monkeypatch):
    """The backstop for a handshake no socket timeout bounds (a bug, a call that takes none): the watchdog cuts
    it shortly after the deadline, on port 587's STARTTLS and 465's TLS alike, and the supporter reads that
    their server took too long. Before, the handshake ran on a socket the watchdog could not reach."""
    server = HostileServer("slow_tls", pace=0.2, hold=120, implicit_tls=security == "ssl").start()
    monkeypatch.setattr(smtp._Conversation, "_timeout", lambda self: 3600.0)  # no per-operation timeout at all
    outcome: list[DeliveryError] = []
    connecting = threading.Thread(target=lambda: outcome.append(_connect(server, security)), daemon=True)
    connecting.start()
    # A bound that only catches a handshake left hanging (the server holds 120 s).
    connecting.join(timeout=30 + PHASE + WATCHDOG_GRACE)
    try:
        assert not connecting.is_alive(), "the watchdog never cut the TLS handshake"
        assert [(e.transient, e.kind, e.reason) for e in outcome] == [(True, "deadline", TOO_LONG)]
    finally:
        server.stop()


def test_a_cut_after_the_watchdog_fired_is_the_deadline_not_a_certificate():
    """Whatever a cut handshake surfaces as (an SSLError of any kind, a certificate error included), it is our
    deadline's doing once the watchdog has cut: a temporary failure that says the server took too long."""
    deadline = Deadline(60, smtp.CONNECTING)
    deadline.was_cut = True
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    explained = smtp.explain(error, deadline)
    assert (explained.transient, explained.kind) == (True, "deadline")
    # Without a cut and before the deadline, a certificate that does not verify is just that.
    assert not smtp.explain(error, Deadline(60, smtp.CONNECTING)).transient
    # A socket timeout is always the deadline's (each one is set to its remaining time), even a hair early.
    assert smtp.explain(TimeoutError("timed out"), Deadline(60, smtp.CONNECTING)).kind == "deadline"


def test_a_late_cut_leaves_the_next_phase_alone():
    """The watchdog may take the watch of a phase that ends a moment later: its cut must not end the next phase
    (sending a letter) on the same connection."""
    ours, theirs = socket.socketpair()
    connection = smtp.PinnedSMTP(("127.0.0.1",))
    try:
        connection.sock = ours
        connecting, sending = Deadline(60, smtp.CONNECTING), Deadline(60, smtp.SENDING)
        connection.deadline = sending
        connection.cut(connecting)
        ours.sendall(b"still here")
        assert theirs.recv(100) == b"still here"
        connection.cut(sending)
        assert ours.recv(100) == b""
    finally:
        connection.sock = None
        ours.close()
        theirs.close()


def test_the_watchdog_cuts_an_https_handshake_that_took_no_timeout(app, monkeypatch):
    """The same backstop for the HTTPS client (the Gmail API, Microsoft Graph, token exchanges)."""
    server = HostileServer("slow_tls", pace=0.2, hold=120, implicit_tls=True).start()
    monkeypatch.setattr(https._Stream, "_timeout", lambda self, asked: 3600.0)  # no per-operation timeout at all
    outcome: list[Exception] = []

    def request() -> None:
        with app.app_context():
            client = https.HttpsClient(allowed=frozenset({("localhost", server.port)}), ca_file="")
            try:
                client.request("GET", f"https://localhost:{server.port}/", seconds=PHASE, phase="testing")
            except httpx.HTTPError as exc:
                outcome.append(exc)
            finally:
                client.close()

    requesting = threading.Thread(target=request, daemon=True)
    requesting.start()
    requesting.join(timeout=30 + PHASE + WATCHDOG_GRACE)  # only catches a handshake left hanging
    try:
        assert not requesting.is_alive(), "the watchdog never cut the TLS handshake"
        assert [type(exc) for exc in outcome] == [httpx.ConnectError]
    finally:
        server.stop()


# ---- DNS: the host check's lookup is part of the phase ----------------------------------------------------------


@pytest.fixture
def hanging_dns(monkeypatch):
    """A resolver stand-in that never answers while the test runs (what a dead DNS server does to getaddrinfo,
    which takes no timeout); it gives up when the test ends, so no thread outlives the test. Returns the names
    asked for, one entry per lookup that started."""
    released = threading.Event()
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - socket.getaddrinfo's
        asked.append(host)
        released.wait(300)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(ssrf, "getaddrinfo", getaddrinfo)
    yield asked
    released.set()


def _in_thread(call, bound: float) -> list:
    """Run `call` in a thread and return [what it returned or raised]; fail if it is still running after `bound`
    seconds (a bound that only catches a lookup left hanging: the stand-in holds for 300 s)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=bound)
    assert not thread.is_alive(), "a resolver that hangs held the caller past its deadline"
    return outcome


def test_a_hanging_resolver_is_the_connecting_phase_taking_too_long(app, hanging_dns):
    """The worker's host check looks the name up within the phase that connects and signs in: a resolver that
    never answers ends in that phase's plain reason, a temporary failure, once its deadline has passed."""
    account = SmtpAccount(host="smtp.example.org", port=587, security="starttls", username="u", password="p")

    def open_session():
        with app.app_context():
            return transport.SmtpTransport(account).open(PHASE)

    outcome = _in_thread(open_session, bound=30)
    assert [(type(e), e.transient, e.kind, e.reason) for e in outcome] == [(DeliveryError, True, "deadline", TOO_LONG)]
    assert hanging_dns == ["smtp.example.org"]


def test_a_hanging_resolver_ends_an_https_request_within_its_phase(app, hanging_dns):
    """The same for the HTTPS client (the Gmail API, Microsoft Graph, token exchanges): the lookup of the
    provider's endpoint is inside the request's deadline."""

    def request():
        with app.app_context():
            client = https.HttpsClient(allowed=frozenset(), ca_file="")
            try:
                return client.request("GET", "https://api.example.org/", seconds=PHASE, phase="testing")
            finally:
                client.close()

    outcome = _in_thread(request, bound=30)
    assert [type(exc) for exc in outcome] == [httpx.ConnectTimeout]
    assert hanging_dns == ["api.example.org"]


def test_lookups_left_hanging_hold_a_bounded_number_of_threads(hanging_dns, monkeypatch):
    """getaddrinfo cannot be interrupted, so a lookup past its deadline is left running in its thread. A resolver
    that hangs must not make a worker pile those up: past LOOKUP_THREADS, a lookup waits for a free thread,
    still only until its own deadline, and starts none."""
    monkeypatch.setattr(ssrf, "_lookup_slots", threading.BoundedSemaphore(2))
    for _ in range(4):
        with pytest.raises(DeadlineExceeded):
            ssrf.check("smtp.example.org", 587, frozenset(), (587,), deadline=Deadline(0.2, ssrf.LOOKING_UP))
    assert hanging_dns == ["smtp.example.org"] * 2


def test_a_resolver_that_hangs_costs_a_supporter_a_plain_reason_not_a_worker(
    app, client, supporter, celery_worker, hanging_dns, monkeypatch
):
    """End to end with the suite's worker, while DNS hangs for everyone: the form's early check gives up on the
    lookup after its own bound and takes the letter (the worker checks again; nothing typed is lost), and the
    worker tries within each phase's deadline, then fails the letter with the plain reason, instead of sitting
    in getaddrinfo with every letter behind it waiting."""
    monkeypatch.setattr(ssrf, "LOOKUP_SECONDS", 0.3)  # the early check's bound, shortened for the test
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 1.0)
    account = {"host": "smtp.example.org", "port": 587, "security": "starttls", "username": "u", "password": "pw"}
    response = client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=account))
    assert response.status_code == 202, response.get_json()
    submission = response.get_json()["id"]

    def finished():
        view = client.get(f"/api/v1/submissions/{submission}").get_json()
        return view if view["done"] else None

    letter = wait_for(finished, timeout=60, what="the letter to finish")["letters"][0]
    tries = len(app.config["DELIVERY_RETRY_DELAYS"]) + 1
    assert (letter["status"], letter.get("error")) == (
        "failed",
        "Your mail server took too long while connecting and signing in (more than 1 seconds), so we stopped. "
        f"We tried {tries} times and gave up; please send again later.",
    )
    assert len(hanging_dns) == 1 + tries  # the form's check, then one lookup a try
