"""Talking to CWC: one POST under one deadline, TLS verified, the reply capped, the key never repeated, and every
answer CWC gives (accepted, refused with a message, 5xx, bad key, a hang, a trickle) turned into the right outcome."""

from __future__ import annotations

import datetime as dt
import gzip
import socket
import ssl
import threading
import uuid

import pytest

from tests.support.cwcserver import API_KEY, Answer
from webapp.cwc import client, message, service
from webapp.cwc.client import Endpoint
from webapp.delivery import cwc as delivery
from webapp.delivery import ssrf
from webapp.delivery.cwc import Unreachable

AGENT = message.Agent(
    "Outcry Test Delivery Agent", "acks@agent.example.org", "Dana", "ops@agent.example.org", "202-555-0100"
)
PERSON = message.Constituent(
    "Ms.", "Zoë", "O'Brien", "500 Valencia St", "", "San Francisco", "CA", "94110", "zoe@example.org"
)


def _xml(office: str = "HCA11", body: str = "Please reunite the families.") -> bytes:
    letter = message.Letter(
        uuid.uuid4().hex, dt.date(2026, 6, 21), "c" * 32, office, "Reunite families", ("Immigration",), body
    )
    return message.build(AGENT, PERSON, letter)


@pytest.fixture
def endpoint(cwc_server) -> Endpoint:
    cwc_server.reset()
    return Endpoint(cwc_server.url, API_KEY, str(cwc_server.ca_file))


def test_a_valid_message_is_accepted_and_arrives_as_sent(endpoint, cwc_server):
    xml = _xml()
    reply = delivery.post(endpoint, xml, seconds=5)
    assert reply.status == 200
    assert service.classify(reply, "Representative Pelosi's office").accepted
    (received,) = cwc_server.received
    assert received.xml == xml and received.office == "HCA11" and received.text("Constituent/LastName") == "O'Brien"


def test_an_invalid_message_is_refused_with_the_grammars_words(endpoint, cwc_server):
    xml = _xml().replace(b"<Zip>94110</Zip>", b"<Zip>941</Zip>")
    reply = delivery.post(endpoint, xml, seconds=5)
    outcome = service.classify(reply, "Representative Pelosi's office")
    assert reply.status == 400 and not outcome.accepted and not outcome.transient
    assert "Zip" in outcome.detail and not cwc_server.received


def test_an_office_refusing_a_non_constituent_says_what_to_fix(endpoint, cwc_server):
    cwc_server.script.append(Answer(400, ["Constituent address is not within the member's district."]))
    outcome = service.classify(delivery.post(endpoint, _xml(), seconds=5), "Representative Pelosi's office")
    assert not outcome.accepted and not outcome.transient and outcome.address_problem
    assert outcome.reason.startswith("Representative Pelosi's office did not accept the letter because of the address")
    assert "not within the member's district" in outcome.reason and "contact form or a printed letter" in outcome.reason


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_server_error_is_worth_another_try(endpoint, cwc_server, status):
    cwc_server.script.append(Answer(status))
    outcome = service.classify(delivery.post(endpoint, _xml(), seconds=5), "Senator Padilla's office")
    assert not outcome.accepted and outcome.transient and f"error {status}" in outcome.reason


def test_a_wrong_key_is_retried_and_never_repeated(cwc_server):
    cwc_server.reset()
    secret = "wrong-key-9f8e7d6c5b4a"
    reply = delivery.post(Endpoint(cwc_server.url, secret, str(cwc_server.ca_file)), _xml(), seconds=5)
    outcome = service.classify(reply, "Senator Padilla's office")
    assert reply.status == 401 and outcome.transient
    assert secret not in outcome.reason + outcome.detail
    assert secret not in repr(Endpoint(cwc_server.url, secret))


def test_a_hang_ends_at_the_deadline(endpoint, cwc_server):
    cwc_server.script.append(Answer(hang=True))
    with pytest.raises(Unreachable) as caught:
        delivery.post(endpoint, _xml(), seconds=1.0)
    assert caught.value.deadline and "within 1 seconds" in caught.value.reason
    assert API_KEY not in str(caught.value)


def test_an_untrusted_certificate_is_refused(cwc_server):
    cwc_server.reset()
    with pytest.raises(Unreachable) as caught:
        delivery.post(Endpoint(cwc_server.url, API_KEY, None), _xml(), seconds=5)
    assert "certificate" in caught.value.reason and not cwc_server.received


class _Hostile:
    """A TLS server that answers byte by byte (a trickle), without end (a flood), or compressed when asked."""

    def __init__(self, ca, mode: str):
        self.mode, self.stop = mode, threading.Event()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(self.context)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        with self.sock:  # one connection, then the listening socket is closed
            conn, _ = self.sock.accept()
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                request = tls.recv(65536)
                if self.mode == "compress":  # as web servers do when the client says it takes gzip
                    while b"\r\n\r\n" not in request:
                        request += tls.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    headers = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
                    while len(body) < int(headers[b"content-length"]):  # all of it: unread bytes would reset
                        body += tls.recv(65536)
                    refusal = b"<Errors><Error>Constituent address is not within the district.</Error></Errors>"
                    gzipped = b"gzip" in headers.get(b"accept-encoding", b"")
                    body = gzip.compress(refusal) if gzipped else refusal
                    encoding = b"Content-Encoding: gzip\r\n" if gzipped else b""
                    tls.sendall(b"HTTP/1.1 400 Bad Request\r\n" + encoding + b"Content-Length: %d\r\n\r\n" % len(body))
                    tls.sendall(body)
                elif self.mode == "trickle":
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
                        if self.stop.wait(0.05):
                            return
                        tls.send(bytes([byte]))
                else:
                    tls.send(b"HTTP/1.1 400 Bad Request\r\n\r\n<Errors>")
                    chunk = b"<Error>" + b"A" * 65536 + b"</Error>"
                    while not self.stop.is_set() and self.sent < 50_000_000:
                        tls.sendall(chunk)
                        self.sent += len(chunk)
        except OSError:  # the client hung up, as it should
            return
        finally:
            conn.close()


def test_a_trickling_endpoint_ends_at_the_same_deadline(certificate_authority):
    ca, path = certificate_authority
    hostile = _Hostile(ca, "trickle")
    try:
        with pytest.raises(Unreachable) as caught:
            delivery.post(
                Endpoint(f"https://localhost:{hostile.port}/v2/message", API_KEY, str(path)), _xml(), seconds=1.0
            )
        assert caught.value.deadline
    finally:
        hostile.stop.set()


def test_a_flood_is_cut_at_the_cap(certificate_authority):
    ca, path = certificate_authority
    hostile = _Hostile(ca, "flood")
    try:
        reply = delivery.post(
            Endpoint(f"https://localhost:{hostile.port}/v2/message", API_KEY, str(path)), _xml(), seconds=5
        )
        assert reply.truncated and len(reply.body) <= client.MAX_REPLY
        outcome = service.classify(reply, "Senator Padilla's office")
        assert not outcome.accepted and len(outcome.reason) < 1000
    finally:
        hostile.stop.set()


def test_a_refusal_is_read_as_sent_even_from_a_server_that_compresses(certificate_authority):
    """The reply is capped as it comes over the wire, so it is asked for uncompressed: a server that gzips for
    clients that take it must still have its refusal read (and could not hide a huge one in a small one)."""
    ca, path = certificate_authority
    hostile = _Hostile(ca, "compress")
    try:
        reply = delivery.post(
            Endpoint(f"https://localhost:{hostile.port}/v2/message", API_KEY, str(path)), _xml(), seconds=5
        )
        outcome = service.classify(reply, "Senator Padilla's office")
        assert reply.status == 400 and outcome.address_problem
        assert "“Constituent address is not within the district.”" in outcome.reason
    finally:
        hostile.stop.set()


def test_a_resolver_that_hangs_ends_at_the_deadline(endpoint, monkeypatch):
    """The endpoint's name is looked up inside the POST's deadline: a DNS server that never answers costs the letter
    a retry, not a worker held for as long as the resolver takes (getaddrinfo itself takes no timeout)."""
    released, asked = threading.Event(), []

    def hanging(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - socket.getaddrinfo's
        asked.append(host)
        released.wait(300)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(ssrf, "getaddrinfo", hanging)
    monkeypatch.setattr(socket, "getaddrinfo", hanging)  # whatever else would look the name up
    outcome: list[BaseException] = []

    def post() -> None:
        try:
            delivery.post(Endpoint("https://cwc.example.org/v2/message", API_KEY, endpoint.ca_file), _xml(), 1.0)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    posting = threading.Thread(target=post, daemon=True)
    posting.start()
    posting.join(timeout=30)  # only catches a lookup left hanging: the stand-in holds for 300 s
    released.set()
    assert not posting.is_alive(), "a resolver that hangs held the POST past its deadline"
    assert asked == ["cwc.example.org"]
    assert [(type(exc), exc.deadline, exc.reason) for exc in outcome] == [
        (Unreachable, True, "Congress's system did not answer within 1 seconds")
    ]
