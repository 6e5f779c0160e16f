"""A conversation cut by our deadline is a temporary failure that says so, whatever the network layer called it.

Real sockets against the hostile servers of tests/support/hostile.py, no worker: smtp.connect() as the engine
calls it, and the HTTPS client the Gmail API and Graph sends use. A slow TLS handshake once came back as an
untrusted connection (a permanent failure, the wrong reason) on a busy machine; these tests slow our side down
on purpose, or take the per-operation timeouts away so that only the watchdog can end the handshake.
"""

from __future__ import annotations

import time

import pytest

from tests.support.hostile import HostileServer
from webapp.delivery import smtp
from webapp.delivery.credentials import SmtpAccount
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
