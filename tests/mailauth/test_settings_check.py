"""The send step's "Test my settings": it signs in to the supporter's real mail server and hangs up (nothing
sent, nothing kept), says in plain words what is wrong, and goes under the same address policy, failure
budget and per-address limit as a send."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.mailserver import PASSWORD, SilentServer
from tests.support.pages import SEND, WRITE, text_of
from webapp.config import parse_allowed_hosts
from webapp.extensions import db, get_redis
from webapp.models import Letter

JSON = {"Accept": "application/json"}


def send_form(client, supporter, mail_server, **settings) -> dict:
    """The send step's form as the supporter filled it in for `mail_server`, with a line of their own."""
    page = client.get(f"{WRITE}?target=ohchr")
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "targets": ["ohchr"],
            "template": "un-human-rights-office", **supporter}  # fmt: skip
    preview = client.post(WRITE, data=data, follow_redirects=True)  # to the preview's own page
    assert preview.status_code == 200
    fields = form_fields(preview.get_data(as_text=True))
    fields["letters-0-body"] = [fields["letters-0-body"][0] + "\n\nA line I added myself."]
    fields.update(action="test", provider="other", smtp_host=mail_server.host, smtp_port=str(mail_server.port),
                  smtp_security="starttls", smtp_username="supporter@example.org", smtp_password=PASSWORD)  # fmt: skip
    fields.update(settings)
    return fields


def nothing_sent_or_kept(app, mail_server) -> None:
    assert mail_server.received == []
    with app.app_context():
        assert db.session.query(Letter).count() == 0
        assert list(get_redis().scan_iter(match="outcry:smtp-credentials:*")) == []


def test_working_settings_sign_in_and_send_nothing(app, client, supporter, mail_server):
    answer = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is True
    assert body["message"] == (
        f"Your settings work: we signed in to {mail_server.host} as supporter@example.org over an encrypted "
        "connection, then hung up. Nothing was sent."
    )
    assert mail_server.auth_attempts == [("PLAIN", True)]
    nothing_sent_or_kept(app, mail_server)


def test_a_wrong_password_is_said_plainly_and_spends_the_hosts_budget(app, client, supporter, mail_server):
    answer = client.post(SEND, data=send_form(client, supporter, mail_server, smtp_password="not it"), headers=JSON)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["ok"] is False
    assert "Your mail server rejected the user name or password" in body["message"]
    assert body["message"].endswith("and test again.")  # a test is tried again as a test, not "send again"
    assert "not it" not in answer.get_data(as_text=True)
    with app.app_context():
        assert list(get_redis().scan_iter(match="outcry:auth-failures:*"))  # a test is no free password oracle
    nothing_sent_or_kept(app, mail_server)


def test_the_hosts_budget_stops_a_test_too(app, client, supporter, mail_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    for _ in range(2):
        client.post(SEND, data=send_form(client, supporter, mail_server, smtp_password="guess"), headers=JSON)
    attempts = len(mail_server.auth_attempts)
    answer = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert answer.status_code == 422
    message = answer.get_json()["message"]
    assert f"Too many sign-ins to {mail_server.host} through Outcry failed recently" in message
    assert "test again in a few minutes" in message and "we'll try again" not in message
    assert len(mail_server.auth_attempts) == attempts  # no password was offered


def test_a_private_address_is_refused_before_connecting(app, client, supporter, mail_server):
    fields = send_form(client, supporter, mail_server, smtp_host="10.0.0.7", smtp_port="587")
    answer = client.post(SEND, data=fields, headers=JSON)
    assert answer.status_code == 422
    assert answer.get_json()["message"].endswith("Nothing was sent.")
    assert mail_server.auth_attempts == []


def test_missing_fields_are_named(app, client, supporter, mail_server):
    answer = client.post(SEND, data=send_form(client, supporter, mail_server, smtp_password=""), headers=JSON)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["errors"] == {"smtp_password": ["Enter your password or app password."]}
    assert body["message"] == "Enter your password or app password."


def test_a_server_that_never_answers_ends_with_advice(app, client, supporter, monkeypatch):
    silent = SilentServer().start()
    try:
        monkeypatch.setitem(app.config, "MAIL_TEST_TIMEOUT", 1.0)
        monkeypatch.setitem(
            app.config, "SMTP_ALLOWED_HOSTS", app.config["SMTP_ALLOWED_HOSTS"] | parse_allowed_hosts(silent.address)
        )
        answer = client.post(SEND, data=send_form(client, supporter, silent), headers=JSON)
    finally:
        silent.stop()
    assert answer.status_code == 422
    message = answer.get_json()["message"]
    assert message.startswith("Your mail server took too long while connecting and signing in (more than 1 seconds)")
    assert message.endswith("Check the server name and port, or test again in a few minutes.")
    assert silent.connections == 1


def test_without_javascript_the_page_comes_back_with_the_answer_and_the_letter(app, client, supporter, mail_server):
    answer = client.post(SEND, data=send_form(client, supporter, mail_server))
    assert answer.status_code == 200
    page = text_of(answer)
    assert "Your settings work: we signed in to" in page and "Type your password again to send." in page
    assert "A line I added myself." in page  # the edit survived
    assert PASSWORD not in page
    nothing_sent_or_kept(app, mail_server)


def test_a_test_counts_against_the_per_address_limit_like_a_send(make_app, supporter, mail_server):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="2 per hour", RATELIMIT_DEFAULT="1000 per minute")
    client = limited.test_client()
    for _ in range(2):
        assert client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON).status_code == 200
    refused = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert refused.status_code == 429
    assert "Please try again in" in refused.get_json()["error"]


@pytest.mark.parametrize("provider", ["outlook"])
def test_a_provider_that_takes_no_password_says_what_works(app, client, supporter, mail_server, provider):
    answer = client.post(SEND, data=send_form(client, supporter, mail_server, provider=provider), headers=JSON)
    assert answer.status_code == 422
    assert "16 September 2024" in answer.get_json()["message"]
    assert mail_server.auth_attempts == []


def test_microsoft_refusing_passwords_offers_its_sign_in_and_spends_no_budget(app, client, supporter, mail_server,
                                                                              monkeypatch):  # fmt: skip
    mail_server.script.auth = ["535 5.7.139 Authentication unsuccessful, basic authentication is disabled."] * 2
    answer = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert answer.status_code == 422
    message = answer.get_json()["message"]
    assert message.startswith("Microsoft no longer accepts passwords from other apps for this account")
    assert "Send with Microsoft" not in message  # not offered where this site has no Microsoft sign-in
    monkeypatch.setitem(app.config, "MICROSOFT_CLIENT_ID", "outcry-test-client")
    monkeypatch.setitem(app.config, "MICROSOFT_CLIENT_SECRET", "secret")
    answer = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert answer.get_json()["message"].endswith("Use “Send with Microsoft” on this page instead.")
    assert PASSWORD not in answer.get_data(as_text=True)
    with app.app_context():
        assert list(get_redis().scan_iter(match="outcry:auth-failures:*")) == []  # not the server's fault
    nothing_sent_or_kept(app, mail_server)
