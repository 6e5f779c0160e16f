"""SSRF end to end (tests/test_ssrf.py has the table against the check itself): every host of the issue's list
refused by the API with a 422 while a listening socket sees no connection, and DNS rebinding between the
API's check and the worker's connection caught by the worker's own check. DNS is stubbed."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from tests.support.dns import fake_dns, listening_socket, stub_dns
from tests.support.letters import LAUNCH, un_letter
from tests.support.waiting import wait_for
from webapp import outbox
from webapp.campaigns.service import find_campaign
from webapp.delivery import ssrf
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db
from webapp.letters import choosing, drafting, reporting
from webapp.letters import service as letters
from webapp.models import Letter, Submission

ISSUE_HOSTS = [
    "127.0.0.1",
    "localhost",
    "::1",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "loopback.example.org",
    "[fec0::1]",
]


@pytest.fixture
def listener(app, monkeypatch):
    """A socket on loopback, on a port the app is told is a mail port, so only the address check can stop it."""
    with listening_socket(backlog=8, timeout=0.2) as (sock, port):
        monkeypatch.setitem(app.config, "SMTP_ALLOWED_PORTS", (25, 465, 587, 2525, port))
        yield sock, port


def assert_no_connection(sock) -> None:
    with pytest.raises(TimeoutError):
        sock.accept()


@pytest.fixture
def dns(monkeypatch):
    return stub_dns(monkeypatch, {"loopback.example.org": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"]})


def smtp_payload(supporter, host: str, port: int) -> dict:
    smtp = {"host": host, "port": port, "security": "starttls", "username": "u@example.org", "password": "pw"}
    return un_letter(supporter, "smtp", smtp=smtp)


@pytest.mark.parametrize("host", ISSUE_HOSTS)
def test_the_api_refuses_internal_hosts_without_connecting(client, supporter, dns, listener, host):
    sock, port = listener
    response = client.post("/api/v1/submissions", json=smtp_payload(supporter, host, port))
    assert response.status_code == 422
    assert "smtp.host" in response.get_json()["errors"]
    assert_no_connection(sock)


@pytest.mark.parametrize("port", [6379, 5432, 22])
def test_other_ports_of_an_allowed_mail_server_are_refused(client, supporter, mail_server, port):
    response = client.post("/api/v1/submissions", json=smtp_payload(supporter, mail_server.host, port))
    assert response.status_code == 422
    assert "port" in response.get_json()["errors"]["smtp.host"][0]


def test_rebinding_between_the_api_and_the_worker_is_caught_by_the_worker(
    app, client, supporter, dns, listener, celery_worker, monkeypatch
):
    """The name is public when the API checks it and loopback when the worker is about to connect: the
    worker checks again, refuses, and the letter fails with a reason; nothing connects anywhere."""
    sock, port = listener
    connections = []
    real_create_connection = socket.create_connection

    def guarded(address, *args, **kwargs):
        if address[1] == port or address[0] == "93.184.216.34":
            connections.append(address)
            raise ConnectionRefusedError("test: no connection to this address may be made")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    answers = iter([["93.184.216.34"]])  # the first answer (the API's check) is public, every later one loopback

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.org":
            return fake_dns(dns)(host, port, *args, **kwargs)
        addresses = next(answers, ["127.0.0.1"])
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(ssrf, "getaddrinfo", rebinding)
    created = client.post("/api/v1/submissions", json=smtp_payload(supporter, "rebind.example.org", port))
    assert created.status_code == 202, created.get_json()
    letter_id = created.get_json()["letters"][0]["id"]
    with app.app_context():
        letter = wait_for(
            lambda: (
                (db.session.expire_all(), db.session.get(Letter, letter_id))[1].status == "failed"
                and db.session.get(Letter, letter_id)
            ),
            what="the worker to refuse the letter",
        )
        assert "can't use rebind.example.org as your mail server" in letter.error
    assert connections == []
    assert_no_connection(sock)


def test_every_path_that_takes_a_mail_account_refuses_an_internal_host(app, supporter, mail_server):
    """The check lives where letters are made (service.submit and service.retry), so the form, the API, sending
    again and whatever path comes next refuse the same hosts; nothing is written, counted or queued again."""
    refused = SmtpAccount("10.0.0.1", 587, "starttls", "u@example.org", "pw")
    with app.test_request_context():
        campaign = find_campaign(LAUNCH, page=False)
        template, targets = choosing.choose(campaign, "un-human-rights-office", ["ohchr"], "smtp")
        person = drafting.Supporter(**supporter)
        before = db.session.scalar(select(func.count()).select_from(Submission))
        with pytest.raises(ssrf.RefusedHost):
            letters.submit(campaign, template, targets, person, "smtp", account=refused)
        assert db.session.scalar(select(func.count()).select_from(Submission)) == before

        allowed = SmtpAccount(mail_server.host, mail_server.port, "starttls", "u@example.org", "pw")
        submission = letters.submit(campaign, template, targets, person, "smtp", account=allowed)
        (claimed,) = outbox.claim(submission.id)
        outbox.finish(claimed, "failed", "The mail server refused it.")
        db.session.expire_all()
        with pytest.raises(ssrf.RefusedHost):
            letters.retry(reporting.find_submission(submission.id), refused)
        db.session.expire_all()
        assert [letter.status for letter in reporting.find_submission(submission.id).letters] == ["failed"]
