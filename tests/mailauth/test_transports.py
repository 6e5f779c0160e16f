"""Sending with a sign-in: the Gmail API and Graph stand-ins receive the exact bytes the SMTP path builds; SMTP
with XOAUTH2 end to end against aiosmtpd checking tokens with the authorization server; every refusal becomes
a reason the supporter understands, marked with whose problem it is."""

from __future__ import annotations

import time

import pytest

from tests.mailauth.conftest import callback_args
from tests.support.mail_apis import Scripted
from webapp.delivery import smtp
from webapp.delivery.smtp import DeliveryError
from webapp.delivery.transport import SignedInTransport, outgoing
from webapp.mailauth import service
from webapp.outbox import Claimed


def signed_in(provider: str, email: str, browser) -> object:
    sign_in, url = service.start(
        provider, redirect_uri=f"http://outcry.test/mail/signed-in/{provider}", login_hint=email, purpose={}
    )
    return service.finish(service.take(sign_in.id), callback_args(browser.consent(url)))


def letter(sender: str, letter_id: str = "0123456789abcdef0123456789abcdef") -> Claimed:
    """A letter as the engine hands it to a transport once claimed."""
    return Claimed(
        id=letter_id,
        submission_id="s" * 32,
        claim_token="t" * 32,
        attempts=1,
        campaign_id=1,
        target_id="ohchr",
        template_id=1,
        channel="smtp",
        recipient="petitions@ohchr.org",
        recipient_name="Office of the High Commissioner",
        subject="Reunite the families",
        body="Dear High Commissioner,\n\nPlease act now.\n\nMaria",
        sender_name="Maria Lopez",
        sender_email=sender,
    )


def built(claimed: Claimed) -> bytes:
    """The bytes the password path would send for this letter (its Date line aside)."""
    return smtp.build_message(outgoing(claimed, None))


def without_date(data: bytes) -> bytes:
    return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Date: "))


@pytest.mark.parametrize(("provider", "email", "api"), [("google", "maria@gmail.com", "gmail"),
                                                       ("microsoft", "maria@outlook.com", "graph")])  # fmt: skip
def test_the_api_receives_the_exact_rfc5322_bytes(oauth_app, mail_apis, provider_browser, provider, email, api):
    with oauth_app.app_context():
        account = signed_in(provider, email, provider_browser)
        session = SignedInTransport(account).open(5)
        session.send(letter(email), 5)
        session.close(1)
        data = built(letter(email))
    assert [item.api for item in mail_apis.delivered] == [api]
    assert without_date(mail_apis.delivered[0].data) == without_date(data)
    assert mail_apis.message_ids() == [f"<outcry.0123456789abcdef0123456789abcdef@{email.split('@')[1]}>"]


def test_an_expired_token_ends_with_sign_in_again(oauth_app, oauth_server, mail_apis, provider_browser):
    with oauth_app.app_context():
        account = signed_in("google", "maria@gmail.com", provider_browser)
        session = SignedInTransport(account).open(5)
        oauth_server.expire_all()  # the provider ends it early (or the supporter revoked access)
        with pytest.raises(DeliveryError) as refused:
            session.send(letter("maria@gmail.com"), 5)
    assert refused.value.kind == "expired" and not refused.value.transient
    assert "Sign in with Google again to send it" in refused.value.reason
    assert mail_apis.refused == [("gmail", 401, "invalid or expired token")]


def test_a_token_about_to_run_out_is_not_used(oauth_app, oauth_server, mail_apis, provider_browser):
    oauth_server.token_lifetime = 10  # less than the margin a conversation needs
    with oauth_app.app_context():
        account = signed_in("microsoft", "maria@outlook.com", provider_browser)
        with pytest.raises(DeliveryError) as refused:
            SignedInTransport(account).open(5)
    assert refused.value.kind == "expired"
    assert "Sign in with Microsoft again" in refused.value.reason
    assert mail_apis.refused == [] and mail_apis.delivered == []


@pytest.mark.parametrize(
    ("provider", "email", "scripted", "kind", "transient", "words"),
    [
        ("google", "maria@gmail.com", Scripted(429, {"error": {"code": 429, "message": "Too many", "errors": [{"reason": "rateLimitExceeded"}]}}), "busy", True, "asked us to wait"),
        ("google", "maria@gmail.com", Scripted(403, {"error": {"code": 403, "message": "Daily limit", "errors": [{"reason": "dailyLimitExceeded"}]}}), "quota", False, "sending limit"),
        ("google", "maria@gmail.com", Scripted(503, {"error": {"code": 503, "message": "Backend Error"}}), "busy", True, "keep trying"),
        ("microsoft", "maria@outlook.com", Scripted(429, {"error": {"code": "ApplicationThrottled", "message": "slow"}}, {"Retry-After": "5"}), "busy", True, "asked us to wait"),
        ("microsoft", "maria@outlook.com", Scripted(400, {"error": {"code": "ErrorQuotaExceeded", "message": "full"}}), "quota", False, "sending limit"),
        ("microsoft", "maria@outlook.com", Scripted(403, {"error": {"code": "ErrorSendAsDenied", "message": "no"}}), "sender", False, "refused to send from your address"),
        ("microsoft", "maria@outlook.com", Scripted(400, {"error": {"code": "ErrorInvalidRecipients", "message": "bad"}}), "recipient", False, "refused the recipient's address"),
    ],
)  # fmt: skip
def test_refusals_are_explained_and_blamed(oauth_app, mail_apis, provider_browser, provider, email, scripted, kind,
                                           transient, words):  # fmt: skip
    with oauth_app.app_context():
        account = signed_in(provider, email, provider_browser)
        mail_apis.script.append(scripted)
        with pytest.raises(DeliveryError) as refused:
            SignedInTransport(account).open(5).send(letter(email), 5)
    assert refused.value.kind == kind
    assert refused.value.transient is transient
    assert words in refused.value.reason
    assert "access_token" not in refused.value.reason and account.access_token not in refused.value.reason


def test_an_accepted_letter_with_a_long_answer_is_sent_not_sent_again(oauth_app, mail_apis, provider_browser):
    """The answer is read up to the cap and no further; its status still says the provider took the letter, so
    the letter counts as sent instead of waiting for a second try that would send it twice."""
    with oauth_app.app_context():
        account = signed_in("google", "maria@gmail.com", provider_browser)
        mail_apis.script.append(Scripted(200, {"id": "m1", "labelIds": ["SENT"] * 100_000}))  # about 900 kB
        session = SignedInTransport(account).open(5)
        session.send(letter("maria@gmail.com"), 5)  # raises DeliveryError if the answer is not taken as sent
        session.close(1)
    assert mail_apis.refused == [("gmail", 200, "scripted")]


def test_a_hanging_api_ends_within_the_phase(oauth_app, mail_apis, provider_browser):
    with oauth_app.app_context():
        account = signed_in("google", "maria@gmail.com", provider_browser)
        mail_apis.delay = 3.0
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failed:
            SignedInTransport(account).open(5).send(letter("maria@gmail.com"), 0.5)
        took = time.monotonic() - started
    assert failed.value.transient and failed.value.kind == "deadline"
    assert took < 2.5  # the phase's 0.5 s, not the server's 3 s


def test_smtp_xoauth2_end_to_end(oauth_app, xoauth2_server, provider_browser):
    with oauth_app.app_context():
        oauth_app.config["MICROSOFT_SEND_WITH"] = "smtp"
        account = signed_in("microsoft", "maria@volunteers.example", provider_browser)
        assert account.send_with == "smtp"
        session = SignedInTransport(account).open(5)
        session.send(letter("maria@volunteers.example"), 5)
        session.close(1)
    assert xoauth2_server.auth_attempts == [("XOAUTH2", True)]
    [received] = xoauth2_server.received
    assert received.mail_from == "maria@volunteers.example"
    assert received.rcpt_tos == ["petitions@ohchr.org"]
    assert str(received.message["Message-ID"]) == "<outcry.0123456789abcdef0123456789abcdef@volunteers.example>"


def test_smtp_xoauth2_with_an_expired_token_says_sign_in_again(
    oauth_app, oauth_server, xoauth2_server, provider_browser
):
    with oauth_app.app_context():
        oauth_app.config["MICROSOFT_SEND_WITH"] = "smtp"
        account = signed_in("microsoft", "maria@volunteers.example", provider_browser)
        oauth_server.expire_all()
        with pytest.raises(DeliveryError) as refused:
            SignedInTransport(account).open(5)
    assert refused.value.kind == "expired" and not refused.value.transient
    assert xoauth2_server.auth_attempts == [("XOAUTH2", False)]
    assert xoauth2_server.received == []
