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
            "site-local.example.org": ["2606:4700::1111", "fec0::25"],
            "nat64.example.org": ["64:ff9b::a00:1"],
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
        # IPv6: global unicast (2000::/3) only.
        "fec0::1",
        "[fec0::1]",
        "fec0:0:0:ffff::1",
        "site-local.example.org",
        "64:ff9b::7f00:1",
        "nat64.example.org",
        "2001:db8::25",
        "2002:7f00:1::1",
        "ff02::1",
        "::",
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


def refusal(host: str, port: int = 587) -> str:
    with pytest.raises(RefusedHost) as refused:
        check(host, port, frozenset(), MAIL_PORTS)
    return str(refused.value)


def test_every_refusal_reads_the_same_so_the_form_is_no_dns_oracle(dns):
    """Whether a name does not exist, points inside the network or uses the wrong port, the supporter reads one
    sentence: otherwise the form would tell a stranger which internal names exist (and where they point)."""
    cases = {
        "not found": refusal("no-such-host.example.org"),
        "loopback": refusal("loopback.example.org"),
        "private among public": refusal("mixed.example.org"),
        "metadata": refusal("metadata.example.org"),
        "site-local": refusal("site-local.example.org"),
        "wrong port": refusal("smtp.example.org", 6379),
    }
    assert len({text.split(" as your mail server", 1)[1] for text in cases.values()}) == 1, cases
    assert "could not be found" not in cases["not found"]
    assert "private" not in cases["loopback"] and "this server" not in cases["loopback"]
    assert "port" in cases["wrong port"] and "587" in cases["wrong port"]


def test_the_refusal_names_no_rule_but_the_log_does(dns, caplog):
    caplog.set_level("INFO", logger="webapp.delivery.ssrf")
    refusal("loopback.example.org")
    refusal("no-such-host.example.org")
    rules = [record.getMessage() for record in caplog.records if record.name == "webapp.delivery.ssrf"]
    assert rules == ["smtp_host.refused rule=loopback", "smtp_host.refused rule=not-found"]
