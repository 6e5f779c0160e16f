"""Which SMTP hosts Outcry connects to. DNS is stubbed (it is outside the product); a listening socket
proves that refused hosts never got a connection."""

from __future__ import annotations

import socket

import pytest

from tests.support.dns import listening_socket, stub_dns
from webapp.delivery.ssrf import RefusedHost, check

MAIL_PORTS = (25, 465, 587, 2525)


@pytest.fixture
def dns(monkeypatch):
    return stub_dns(
        monkeypatch,
        {
            "smtp.example.org": ["93.184.216.34"],
            "loopback.example.org": ["127.0.0.1"],
            "mixed.example.org": ["93.184.216.34", "10.1.2.3"],
            "metadata.example.org": ["169.254.169.254"],
            "v6.example.org": ["2606:4700::1111"],
            "localhost": ["127.0.0.1", "::1"],
        },
    )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "::1",
        "[::1]",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[::ffff:127.0.0.1]",
        "::ffff:10.0.0.1",
        "2130706433",
        "0x7f000001",
        "017700000001",
        "127.1",
        "loopback.example.org",
        "mixed.example.org",
        "metadata.example.org",
        "100.64.0.1",
        "224.0.0.1",
        "fe80::1",
        "fc00::1",
        "240.0.0.1",
        "no-such-host.example.org",
        "",
        "exa mple.org",
        "a..b",
    ],
)
def test_refused_hosts(dns, host):
    with pytest.raises(RefusedHost):
        check(host, 587, frozenset(), MAIL_PORTS)


@pytest.mark.parametrize("port", [22, 80, 443, 5432, 6379, 11211])
def test_only_mail_ports(dns, port):
    with pytest.raises(RefusedHost, match="port"):
        check("smtp.example.org", port, frozenset(), MAIL_PORTS)


@pytest.mark.parametrize("port", [6379, 5432, 22])
def test_allowed_host_is_exempt_only_on_its_own_port(dns, port):
    allowed = frozenset({("localhost", 2525)})
    assert check("localhost", 2525, allowed, MAIL_PORTS).addresses
    with pytest.raises(RefusedHost):
        check("localhost", port, allowed, MAIL_PORTS)


def test_public_hosts_pass_and_return_the_checked_addresses(dns):
    checked = check("SMTP.Example.org.", 587, frozenset(), MAIL_PORTS)
    assert checked.host == "smtp.example.org"
    assert checked.addresses == ("93.184.216.34",)
    assert check("v6.example.org", 465, frozenset(), MAIL_PORTS).addresses == ("2606:4700::1111",)


def test_refusal_makes_no_connection(dns, monkeypatch):
    """A server listening on loopback sees no connection when its address is refused."""
    with listening_socket(backlog=1, timeout=0.3) as (listener, port):
        for host in ("127.0.0.1", "loopback.example.org", "localhost", "2130706433"):
            with pytest.raises(RefusedHost):
                check(host, port, frozenset(), MAIL_PORTS + (port,))
        with pytest.raises(TimeoutError):
            listener.accept()


def test_connection_goes_to_the_checked_address_even_if_dns_changes(dns, monkeypatch):
    """DNS rebinding: the name resolves public when checked and private afterwards; only the checked
    address is ever connected to."""
    from webapp.delivery.smtp import PinnedSMTP

    checked = check("smtp.example.org", 587, frozenset(), MAIL_PORTS)
    dns["smtp.example.org"] = ["127.0.0.1"]  # the attacker's second answer
    attempts = []

    def record(address, timeout=None, source_address=None):
        attempts.append(address)
        raise ConnectionRefusedError("test: nothing listens")

    monkeypatch.setattr(socket, "create_connection", record)
    client = PinnedSMTP(checked.addresses, timeout=1)
    with pytest.raises(OSError):
        client.connect(checked.host, checked.port)
    assert attempts == [("93.184.216.34", 587)]
