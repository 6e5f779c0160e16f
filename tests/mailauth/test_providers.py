"""Settings found from the supporter's address: a provider's own domains, custom domains by their MX records
(answered by a DNS server on loopback, or the resolver seam), and help that tells the truth."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from webapp.mailauth import providers
from webapp.mailauth.providers import BY_KEY, PROVIDERS, detect


@pytest.fixture(autouse=True)
def fresh_cache():
    providers.forget_mx_cache()
    yield
    providers.forget_mx_cache()


@pytest.fixture
def mx_table(monkeypatch):
    """The seam: resolve_mx answers from a table; a domain not in it has no MX records."""
    table: dict[str, list[str]] = {}
    asked: list[str] = []

    def resolve(domain):
        asked.append(domain)
        return table.get(domain, [])

    monkeypatch.setattr(providers, "resolve_mx", resolve)
    return table, asked


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("someone@gmail.com", "gmail"),
        ("Someone@GoogleMail.com", "gmail"),
        ("a@outlook.com", "outlook"),
        ("a@hotmail.co.uk", "outlook"),
        ("a@live.com", "outlook"),
        ("a@msn.com", "outlook"),
        ("a@yahoo.com", "yahoo"),
        ("a@ymail.com", "yahoo"),
        ("a@aol.com", "aol"),
        ("a@icloud.com", "icloud"),
        ("a@me.com", "icloud"),
        ("a@fastmail.com", "fastmail"),
        ("a@gmx.com", "gmx"),
        ("a@gmx.de", "gmx_de"),
        ("a@web.de", "webde"),
        ("a@proton.me", "proton"),
        ("a@zoho.com", "zoho"),
    ],
)
def test_a_providers_own_domain_needs_no_dns(mx_table, email, key):
    _table, asked = mx_table
    found = detect(email)
    assert found.key == key
    assert found.how == "domain"
    assert asked == []


@pytest.mark.parametrize(
    ("mx", "key"),
    [
        (["aspmx.l.google.com", "alt1.aspmx.l.google.com"], "gmail"),
        (["smtp.google.com"], "gmail"),
        (["example-org.mail.protection.outlook.com"], "microsoft365"),
        (["example-org.o-v1.mx.microsoft"], "microsoft365"),
        (["in1-smtp.messagingengine.com", "in2-smtp.messagingengine.com"], "fastmail"),
        (["mx01.mail.icloud.com"], "icloud"),
        (["mail.protonmail.ch"], "proton"),
        (["mx.zoho.com"], "zoho"),
    ],
)
def test_a_custom_domain_is_found_by_its_mx_records(mx_table, mx, key):
    table, _asked = mx_table
    table["campaign-volunteers.org"] = mx
    found = detect("maria@campaign-volunteers.org")
    assert found.key == key
    assert found.how == "mx"


def test_a_look_alike_mx_is_not_taken_for_the_provider(mx_table):
    table, _asked = mx_table
    table["tricky.example"] = ["mail.notgoogle.com", "google.com.attacker.example"]
    assert detect("a@tricky.example").provider is None


def test_an_unknown_domain_finds_nothing_and_is_asked_once(mx_table):
    _table, asked = mx_table
    assert detect("a@example.net").provider is None
    assert detect("b@example.net").provider is None
    assert asked == ["example.net"]


def test_nonsense_addresses_find_nothing(mx_table):
    _table, asked = mx_table
    for email in ("", "no-at-sign", "a@", "a@localhost"):
        assert detect(email).provider is None
    assert asked == []


class LoopbackDNS:
    """A DNS server on 127.0.0.1 answering MX questions from a table (and nothing at all for `silent`)."""

    def __init__(self, table: dict[str, list[tuple[int, str]]], silent: set[str] = frozenset()):
        self.table, self.silent = table, silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = str(question.name).rstrip(".")
            if name in self.silent:
                continue
            reply = dns.message.make_response(query)
            if question.rdtype == dns.rdatatype.MX and name in self.table:
                records = [f"{preference} {host}." for preference, host in self.table[name]]
                reply.answer.append(dns.rrset.from_text_list(f"{name}.", 300, "IN", "MX", records))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def loopback_resolver(monkeypatch):
    def use(server: LoopbackDNS):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = server.port
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver)

    return use


def test_the_real_lookup_asks_dns_and_orders_by_preference(loopback_resolver):
    table = {"volunteers.example": [(20, "alt1.aspmx.l.google.com"), (10, "ASPMX.L.GOOGLE.COM")]}
    with LoopbackDNS(table) as server:
        loopback_resolver(server)
        assert providers.resolve_mx("volunteers.example") == ["aspmx.l.google.com", "alt1.aspmx.l.google.com"]
        assert detect("a@volunteers.example").key == "gmail"
        assert providers.resolve_mx("missing.example") == []


def test_a_resolver_that_never_answers_gives_up_within_its_lifetime(loopback_resolver, monkeypatch):
    monkeypatch.setattr(providers, "MX_LIFETIME", 0.5)
    with LoopbackDNS({}, silent={"slow.example"}) as server:
        loopback_resolver(server)
        assert providers.resolve_mx("slow.example") == []
        assert detect("a@slow.example").provider is None


def test_outlook_help_says_passwords_are_refused_not_app_passwords():
    outlook = BY_KEY["outlook"]
    assert "16 September 2024" in outlook.help
    assert "app passwords included" in outlook.help
    assert not outlook.password_works
    assert outlook.oauth == "microsoft"
    for provider in PROVIDERS:
        assert provider.help.endswith(".")
        if provider.oauth == "microsoft":
            assert "Create an app password" not in provider.help
