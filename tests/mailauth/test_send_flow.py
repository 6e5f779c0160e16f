"""The supporter's pages with a sign-in: the send step offers "Send with Google / Microsoft" for the address
they gave; the letter is written to the outbox after the sign-in, sent by the real Celery worker through the
API stand-ins (or XOAUTH2), and counted once; a refused consent, a wrong account or an expired sign-in keeps
everything typed; a failed letter is sent again from its status page with the same id and Message-ID."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.pages import SEND, WRITE, text_of
from tests.support.waiting import wait_for
from webapp.extensions import db, get_credentials_redis
from webapp.models import Letter, Submission, TargetTally
from webapp.security.headers import CONTENT_SECURITY_POLICY


def preview(client, supporter):
    page = client.get(f"{WRITE}?target=ohchr")
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "targets": ["ohchr"],
            "template": "un-human-rights-office", **supporter}  # fmt: skip
    response = client.post(WRITE, data=data, follow_redirects=True)  # to the preview's own page
    assert response.status_code == 200, text_of(response)
    return response


def sign_in_and_send(client, supporter, provider_browser, provider="google", **consent):
    page = preview(client, supporter)
    fields = form_fields(page.get_data(as_text=True))
    fields["action"] = provider
    fields["letters-0-body"] = [fields["letters-0-body"][0] + "\n\nA line I added myself."]
    started = client.post(SEND, data=fields)
    assert started.status_code == 303, text_of(started)
    back = provider_browser.consent(started.headers["Location"], **consent)
    parts = urlsplit(back)
    return client.get(f"{parts.path}?{parts.query}")


@pytest.fixture
def gmail_supporter(supporter):
    return {**supporter, "email": "maria@gmail.com"}


def test_the_send_step_offers_the_sign_in_for_the_address(oauth_app, client, gmail_supporter):
    text = text_of(preview(client, gmail_supporter))
    assert "Send with Google" in text and "Send with Microsoft" in text
    assert text.index("Send with Google") < text.index("Send with Microsoft")  # the address's provider first
    assert "we never see your password" in text
    outlook = text_of(preview(client, {**gmail_supporter, "email": "maria@outlook.com"}))
    assert outlook.index("Send with Microsoft") < outlook.index("Send with Google")
    assert "Since 16 September 2024" in outlook


def test_no_buttons_without_configured_clients(app, client, gmail_supporter):
    text = text_of(preview(client, gmail_supporter))
    assert "Send with Google" not in text
    assert re.search(r'<option selected value="gmail">', text)  # the settings are still found from the address


def test_without_configured_clients_no_help_mentions_signing_in(app, client, gmail_supporter):
    """The providers' help offers their sign-in only where this site has it: otherwise it says what works."""
    text = text_of(preview(client, gmail_supporter))
    for dead in ("Signing in with Google", "Sign in with Microsoft", "Sign in with Google", "Send with Microsoft"):
        assert dead not in text
    assert "Gmail takes an app password" in text
    assert "accounts refuse passwords from other apps, app passwords included. Open the letter in your mail app" in text
    assert "If your password is refused, ask your IT team" in text
    fields = form_fields(preview(client, {**gmail_supporter, "email": "maria@outlook.com"}).get_data(as_text=True))
    fields.update(action="smtp", provider="outlook", smtp_password="not-a-password")
    refused = text_of(client.post(SEND, data=fields))
    [error] = re.findall(r'<p class="error" id="provider-error">(.*?)</p>', refused)
    assert "Open the letter in your mail app instead." in error and "Sign in with" not in error


def test_with_configured_clients_the_help_offers_the_sign_in(oauth_app, client, gmail_supporter):
    text = text_of(preview(client, {**gmail_supporter, "email": "maria@outlook.com"}))
    assert "Sign in with Microsoft instead, or open the letter in your mail app." in text
    assert "Signing in with Google is easier." in text


def test_send_with_google_delivers_through_the_gmail_api(oauth_app, client, celery_worker, gmail_supporter,
                                                        provider_browser, mail_apis):  # fmt: skip
    done = sign_in_and_send(client, gmail_supporter, provider_browser)
    assert done.status_code == 303
    status_url = done.headers["Location"]
    assert "/s/" in status_url
    wait_for(lambda: len(mail_apis.delivered) == 1, timeout=20)
    with oauth_app.app_context():
        [letter] = db.session.query(Letter).all()
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "sent", timeout=20)
        submission = db.session.get(Submission, letter.submission_id)
        assert submission.smtp_host == "signed-in:google"
        tally = db.session.get(TargetTally, (letter.campaign_id, "ohchr"))
        assert (tally.sent, tally.failed) == (1, 0)
        wait_for(lambda: not list(get_credentials_redis().scan_iter(match="outcry:smtp-credentials:*")), timeout=10)
    [delivered] = mail_apis.delivered
    message = delivered.message
    assert message["From"].addresses[0].addr_spec == "maria@gmail.com"
    assert message["To"].addresses[0].addr_spec == "petitions@ohchr.org"
    assert str(message["Message-ID"]) == f"<outcry.{letter.id}@gmail.com>"
    assert "A line I added myself." in message.get_content()
    page = text_of(client.get(status_url))
    assert "Sent from your email account." in page


def test_refusing_consent_keeps_the_letter_and_sends_nothing(oauth_app, client, gmail_supporter, provider_browser,
                                                             mail_apis):  # fmt: skip
    back = sign_in_and_send(client, gmail_supporter, provider_browser, allow=False)
    assert back.status_code == 422
    text = text_of(back)
    assert "You didn't allow Outcry to send from your Google account, so nothing was sent." in text
    assert "A line I added myself." in text  # the edit survived the trip
    assert gmail_supporter["note"] in text
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 0
    assert mail_apis.delivered == []


def test_signing_in_as_someone_else_is_caught(oauth_app, client, gmail_supporter, provider_browser):
    back = sign_in_and_send(client, gmail_supporter, provider_browser, account="other.person@gmail.com")
    assert back.status_code == 422
    assert "You signed in as other.person@gmail.com, but your letter is from maria@gmail.com." in text_of(back)
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 0


def test_a_callback_from_another_browser_is_refused(oauth_app, client, app, gmail_supporter, provider_browser):
    page = preview(client, gmail_supporter)
    fields = form_fields(page.get_data(as_text=True))
    fields["action"] = "google"
    started = client.post(SEND, data=fields)
    back = urlsplit(provider_browser.consent(started.headers["Location"]))
    stranger = app.test_client()  # no session: the sign-in isn't theirs
    refused = stranger.get(f"{back.path}?{back.query}")
    assert refused.status_code == 400
    assert "Your sign-in took too long or was already used" in text_of(refused)
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 0


def test_an_expired_sign_in_fails_the_letter_and_signing_in_again_sends_the_same_letter(
    oauth_app, client, celery_worker, gmail_supporter, provider_browser, oauth_server, mail_apis
):
    mail_apis.script.append(__import__("tests.support.mail_apis", fromlist=["Scripted"]).Scripted(401, {}))
    done = sign_in_and_send(client, gmail_supporter, provider_browser)
    status_url = done.headers["Location"]
    with oauth_app.app_context():
        [letter] = db.session.query(Letter).all()
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "failed", timeout=20)
        tally = db.session.get(TargetTally, (letter.campaign_id, "ohchr"), populate_existing=True)
        assert (tally.sent, tally.failed) == (0, 1)
    page = client.get(status_url)
    text = text_of(page)
    assert "Your sign-in with Google ran out before this letter could go" in text
    assert "Sign in with Google again and send" in text
    retried = client.post(
        f"{status_url}/retry", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "action": "google"}
    )
    assert retried.status_code == 303
    back = urlsplit(provider_browser.consent(retried.headers["Location"]))
    after = client.get(f"{back.path}?{back.query}")
    assert after.status_code == 303 and after.headers["Location"] == status_url
    wait_for(lambda: len(mail_apis.delivered) == 1, timeout=20)
    with oauth_app.app_context():
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "sent", timeout=20)
        assert db.session.query(Letter).count() == 1
        tally = db.session.get(TargetTally, (letter.campaign_id, "ohchr"), populate_existing=True)
        assert (tally.sent, tally.failed) == (1, 0)  # counted once, as what it ended as
    assert mail_apis.message_ids() == [f"<outcry.{letter.id}@gmail.com>"]
    assert "Send it again" not in text_of(client.get(status_url))


def test_send_with_microsoft_over_smtp_xoauth2(oauth_app, monkeypatch, client, celery_worker, supporter,
                                               provider_browser, xoauth2_server):  # fmt: skip
    monkeypatch.setitem(oauth_app.config, "MICROSOFT_SEND_WITH", "smtp")
    work = {**supporter, "email": "maria@volunteers.example"}
    done = sign_in_and_send(client, work, provider_browser, provider="microsoft")
    assert done.status_code == 303
    wait_for(lambda: len(xoauth2_server.received) == 1, timeout=20)
    assert xoauth2_server.auth_attempts == [("XOAUTH2", True)]
    assert xoauth2_server.received[0].mail_from == "maria@volunteers.example"


def test_a_failed_password_letter_is_sent_again_with_the_password(app, client, celery_worker, supporter, mail_server):
    page = preview(client, supporter)
    fields = form_fields(page.get_data(as_text=True))
    settings = mail_server.smtp_settings()
    fields.update(action="smtp", provider="other", smtp_host=settings["host"], smtp_port=str(settings["port"]),
                  smtp_security="starttls", smtp_username=settings["username"], smtp_password="wrong password")  # fmt: skip
    done = client.post(SEND, data=fields)
    status_url = done.headers["Location"]
    with app.app_context():
        [letter] = db.session.query(Letter).all()
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "failed", timeout=20)
    page = client.get(status_url)
    assert "Send it again" in text_of(page)
    again = client.post(f"{status_url}/retry", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                        "action": "password", "smtp_username": settings["username"], "smtp_password": settings["password"]})  # fmt: skip
    assert again.status_code == 303
    wait_for(lambda: len(mail_server.received) == 1, timeout=20)
    with app.app_context():
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "sent", timeout=20)
        tally = db.session.get(TargetTally, (letter.campaign_id, "ohchr"), populate_existing=True)
        assert (tally.sent, tally.failed) == (1, 0)
    assert list(mail_server.message_ids()) == [f"<outcry.{letter.id}@example.org>"]


def _started(client, supporter, provider="google") -> str:
    """Press 'Send with …' and stop at the provider's consent page; returns its address."""
    fields = form_fields(preview(client, supporter).get_data(as_text=True))
    fields["action"] = provider
    started = client.post(SEND, data=fields)
    assert started.status_code == 303
    return started.headers["Location"]


def _sign_in_records() -> list:
    return list(get_credentials_redis().scan_iter(match="outcry:oauth-sign-in:*"))


def test_forgetting_an_email_deletes_a_sign_in_still_at_the_provider(oauth_app, client, gmail_supporter,
                                                                     provider_browser, mail_apis):  # fmt: skip
    """The letter waiting for its sign-in (the whole send form, encrypted) is the supporter's data too."""
    consent = _started(client, gmail_supporter)
    other = oauth_app.test_client()
    _started(other, {**gmail_supporter, "email": "someone.else@gmail.com"})
    with oauth_app.app_context():
        assert len(_sign_in_records()) == 2
    result = oauth_app.test_cli_runner().invoke(args=["privacy", "forget", "MARIA@gmail.com"])
    assert "Deleted 1 unfinished sign-in(s)" in result.output
    with oauth_app.app_context():
        assert len(_sign_in_records()) == 1  # someone else's is left alone
    back = urlsplit(provider_browser.consent(consent))
    refused = client.get(f"{back.path}?{back.query}")  # the supporter finishes signing in after all
    assert refused.status_code == 400
    assert "Your sign-in took too long or was already used" in text_of(refused)
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 0
    assert mail_apis.delivered == []


def test_deleting_my_data_deletes_a_retry_still_at_the_provider(oauth_app, client, celery_worker, gmail_supporter,
                                                                provider_browser, mail_apis):  # fmt: skip
    from tests.support.mail_apis import Scripted

    mail_apis.script.append(Scripted(401, {}))
    status_url = sign_in_and_send(client, gmail_supporter, provider_browser).headers["Location"]
    with oauth_app.app_context():
        [letter] = db.session.query(Letter).all()
        wait_for(lambda: db.session.get(Letter, letter.id, populate_existing=True).status == "failed", timeout=20)
    page = client.get(status_url)
    retried = client.post(
        f"{status_url}/retry", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "action": "google"}
    )
    assert retried.status_code == 303
    with oauth_app.app_context():
        assert len(_sign_in_records()) == 1
    page = client.get(status_url)
    forgotten = client.post(f"{status_url}/forget", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert forgotten.status_code in (302, 303)
    with oauth_app.app_context():
        assert _sign_in_records() == []
    back = urlsplit(provider_browser.consent(retried.headers["Location"]))
    assert client.get(f"{back.path}?{back.query}").status_code == 400
    assert mail_apis.delivered == []


def test_the_pages_that_lead_to_a_consent_page_allow_it_as_a_form_action(oauth_app, client, gmail_supporter,
                                                                        oauth_server):  # fmt: skip
    """Chromium checks `form-action` on the redirect that follows a form (the Chromium test found it): the send
    step's form answers with a redirect to the provider, so its page names the provider's origin, and only that."""
    policy = preview(client, gmail_supporter).headers["Content-Security-Policy"]
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["form-action"] == f"'self' {oauth_server.base}"
    assert client.get("/healthz").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_without_sign_in_clients_forms_stay_on_the_site(app, client, gmail_supporter):
    assert preview(client, gmail_supporter).headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_a_spanish_reader_reads_a_refused_or_expired_sign_in_in_spanish(oauth_app, app, client, gmail_supporter,
                                                                        provider_browser, mail_apis):  # fmt: skip
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    back = sign_in_and_send(client, gmail_supporter, provider_browser, allow=False)
    assert back.status_code == 422
    text = text_of(back)
    assert "No le diste permiso a Outcry para enviar desde tu cuenta de Google, así que no se envió nada." in text
    assert "You didn't allow Outcry" not in text
    assert "A line I added myself." in text  # what they wrote is still there
    stranger = app.test_client()
    stranger.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    expired = stranger.get("/mail/signed-in/google?state=x&code=y")
    assert expired.status_code == 400
    assert "Tu inicio de sesión tardó demasiado o ya se había usado, así que no se envió nada." in text_of(expired)
    assert mail_apis.delivered == []


def test_a_spanish_reader_reads_each_providers_help_in_spanish(app, client, gmail_supporter):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = preview(client, gmail_supporter)
    text = text_of(page)
    assert "Gmail no acepta tu contraseña de siempre, sino una contraseña de aplicación" in text
    assert "Proton Mail solo deja enviar desde otras aplicaciones a través de Proton Mail Bridge" in text
    assert "Gmail takes an app password" not in text and "Since 16 September 2024" not in text
    fields = form_fields(page.get_data(as_text=True))
    fields.update(action="smtp", provider="outlook", smtp_password="not-a-password")
    refused = text_of(client.post(SEND, data=fields))  # Outlook.com takes no password: its help says what works
    [error] = re.findall(r'<p class="error" id="provider-error">(.*?)</p>', refused)
    assert error.startswith("Desde el 16 de septiembre de 2024, las cuentas de Outlook.com, Hotmail, Live y MSN ya no")


def test_a_sign_in_that_expired_at_the_provider_leads_back_to_the_letter(oauth_app, client, gmail_supporter,
                                                                        provider_browser, mail_apis):  # fmt: skip
    """The supporter lingered at the provider past OAUTH_SIGN_IN_TTL: the record is gone, their letter is not."""
    fields = form_fields(preview(client, gmail_supporter).get_data(as_text=True))
    fields["action"] = "google"
    fields["letters-0-body"] = [fields["letters-0-body"][0] + "\n\nA line I added myself."]
    started = client.post(SEND, data=fields)
    assert started.status_code == 303
    with oauth_app.app_context():
        get_credentials_redis().delete(*_sign_in_records())  # what its TTL does
    back = urlsplit(provider_browser.consent(started.headers["Location"]))
    expired = client.get(f"{back.path}?{back.query}")
    assert expired.status_code == 400
    page = expired.get_data(as_text=True)
    assert "Your sign-in took too long or was already used" in text_of(expired)
    link = re.search(r'<a class="button primary" href="([^"]+)">Back to the letter</a>', page)
    assert link, page
    letter = client.get(link.group(1))
    assert letter.status_code == 200
    assert "A line I added myself." in text_of(letter)
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 0
    assert mail_apis.delivered == []


def test_starting_the_sign_in_twice_leaves_one_record(oauth_app, client, gmail_supporter):
    """A double tap, or back and try again: the first sign-in's record (the whole letter, encrypted) is deleted."""
    _started(client, gmail_supporter)
    _started(client, gmail_supporter)
    with oauth_app.app_context():
        assert len(_sign_in_records()) == 1


def test_reloading_the_callback_shows_the_same_status_page_and_sends_once(
    oauth_app, client, celery_worker, gmail_supporter, provider_browser, mail_apis
):
    page = preview(client, gmail_supporter)
    fields = form_fields(page.get_data(as_text=True))
    fields["action"] = "google"
    started = client.post(SEND, data=fields)
    back = urlsplit(provider_browser.consent(started.headers["Location"]))
    first = client.get(f"{back.path}?{back.query}")
    assert first.status_code == 303
    again = client.get(f"{back.path}?{back.query}")  # the phone reloads, or back and forward
    assert again.status_code == 303, text_of(again)
    assert again.headers["Location"] == first.headers["Location"]
    wait_for(lambda: len(mail_apis.delivered) == 1, timeout=20)
    with oauth_app.app_context():
        assert db.session.query(Letter).count() == 1
    assert len(mail_apis.delivered) == 1


UNAVAILABLE = "Sending from your own mail account is briefly unavailable on our side"


@pytest.fixture
def credentials_down(app, make_app, client, log_records):
    """The app with its credentials Redis (CREDENTIALS_REDIS_URL) gone, the rest up; it shares `client`'s session."""
    from tests.support.mailserver import free_port

    dead = make_app(CREDENTIALS_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", GOOGLE_CLIENT_ID="id",
                    GOOGLE_CLIENT_SECRET="secret", MAIL_SETTINGS_MX_LOOKUP=False).test_client()  # fmt: skip

    def follow():
        cookie = client.get_cookie("session", domain=app.config["SERVER_NAME"])
        if cookie is not None:
            dead.set_cookie("session", cookie.value, domain=cookie.domain)
        return dead

    return follow


@pytest.mark.parametrize("action", ["smtp", "google"])
def test_with_the_credentials_redis_down_sending_says_so_and_keeps_the_letter(
    credentials_down, client, supporter, mail_server, log_records, action
):
    fields = form_fields(preview(client, supporter).get_data(as_text=True))
    settings = mail_server.smtp_settings(password="pässwörd-ünïcode-secret")
    fields.update(action=action, provider="other", smtp_host=settings["host"], smtp_port=str(settings["port"]),
                  smtp_security="starttls", smtp_username=settings["username"], smtp_password=settings["password"])  # fmt: skip
    fields["letters-0-body"] = [fields["letters-0-body"][0] + "\n\nA line I added myself."]
    answer = credentials_down().post(SEND, data=fields)
    assert answer.status_code == 503, text_of(answer)
    text = text_of(answer)
    assert UNAVAILABLE in text
    assert "password" not in text.split(UNAVAILABLE)[1].split(".")[0]  # the words blame no password
    assert "A line I added myself." in text and supporter["note"] in text
    assert settings["password"] not in answer.get_data(as_text=True) and settings["password"] not in log_records.text


def test_with_the_credentials_redis_down_the_callback_answers_503_with_the_way_back(credentials_down, client):
    dead = credentials_down()
    with dead.session_transaction() as session:
        session["mail_sign_in"] = {"id": "a-sign-in", "back": "/c/families/letter/d1"}
    answer = dead.get("/mail/signed-in/google?state=s&code=c")
    assert answer.status_code == 503
    assert UNAVAILABLE in text_of(answer)
    assert 'href="/c/families/letter/d1">Back to the letter</a>' in answer.get_data(as_text=True)
