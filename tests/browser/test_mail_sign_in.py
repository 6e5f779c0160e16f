"""Send with Google in a real browser: the send step offers it for a Gmail address, the supporter signs in on
the (stand-in) provider's page and allows sending, comes back, and watches the letter go out through the
Gmail API; refusing consent brings them back to their letter as they left it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.support.letters import LAUNCH
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.waiting import wait_for
from webapp.config import parse_allowed_hosts, read_environment

NOTE = "My grandmother crossed this border with my mother in her arms."


@pytest.fixture(autouse=True)
def every_worker_sends_alike(app, monkeypatch, provider_settings):
    """The suite's own Celery worker (a thread, if earlier tests started it) takes tasks from the same queue as the
    live server's worker: it gets the same settings, so whichever takes the letter sends it the same way."""
    settings = read_environment(provider_settings)
    settings["OAUTH_ALLOWED_HOSTS"] = parse_allowed_hosts(settings["OAUTH_ALLOWED_HOSTS"])
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)


def write_to_the_un(page, email: str) -> None:
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    expect(page.get_by_role("heading", name="Write your letter")).to_be_visible()
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill(email)
    page.get_by_label("In your own words (optional)").fill(NOTE)
    page.get_by_role("button", name="Preview my letter").click()
    expect(page.get_by_role("heading", name="Check and edit your letter")).to_be_visible()


def test_sign_in_with_google_then_watch_the_letter_go(new_page, mail_apis, oauth_server):
    mail_apis.reset()
    page = new_page(ignore_https_errors=True)
    write_to_the_un(page, "maria.lopez@gmail.com")
    body = page.locator("textarea").first
    body.fill(body.input_value() + "\n\nI am writing from my own account.")

    google = page.get_by_role("button", name="Send with Google")
    expect(google).to_have_class(re.compile(r"\bprimary\b"))  # the address's provider first
    expect(page.get_by_role("button", name="Send from my email")).to_have_class(re.compile(r"\bsecondary\b"))
    screenshot(page, "oauth-1-send-step")
    google.click()

    # The provider's own page: who is signing in, and what Outcry asks for (sending only).
    expect(page.get_by_role("heading", name=re.compile("Sign in to continue"))).to_be_visible()
    assert page.url.startswith(oauth_server.base)
    expect(page.get_by_label("Account")).to_have_value("maria.lopez@gmail.com")
    expect(page.locator("ul")).to_contain_text("https://www.googleapis.com/auth/gmail.send")
    screenshot(page, "oauth-2-consent")
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_role("heading", name="Your letters")).to_be_visible()
    status = page.locator('[data-field="status"]')
    expect(status).to_have_text("Sent from your email account.", timeout=30_000)
    screenshot(page, "oauth-3-status-sent")
    [delivered] = wait_for(lambda: list(mail_apis.delivered), what="the letter at the Gmail API stand-in")
    assert delivered.api == "gmail"
    message = delivered.message
    assert message["From"].addresses[0].addr_spec == "maria.lopez@gmail.com"
    assert message["To"].addresses[0].addr_spec == "petitions@ohchr.org"
    assert "I am writing from my own account." in message.get_content()
    assert NOTE in message.get_content()


def test_refusing_consent_comes_back_to_the_letter_as_it_was(new_page, mail_apis):
    mail_apis.reset()
    page = new_page(ignore_https_errors=True)
    write_to_the_un(page, "maria.lopez@gmail.com")
    body = page.locator("textarea").first
    body.fill(body.input_value() + "\n\nA sentence I wrote myself.")
    page.get_by_role("button", name="Send with Google").click()
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("heading", name="Check and edit your letter")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        "You didn't allow Outcry to send from your Google account, so nothing was sent."
    )
    expect(page.locator("textarea").first).to_contain_text("A sentence I wrote myself.")
    screenshot(page, "oauth-4-consent-refused")
    assert mail_apis.delivered == []


def test_test_my_settings_answers_in_place_and_keeps_the_password_typed(new_page, mail_server):
    page = new_page()
    write_to_the_un(page, USERNAME)
    page.get_by_label("Your email provider").select_option("other")
    page.get_by_label("Outgoing mail server (SMTP)").fill(mail_server.host)
    page.get_by_label("Port").fill(str(mail_server.port))
    page.get_by_label("Password or app password").fill(PASSWORD)
    received = len(mail_server.received)
    page.evaluate("window.__stillTheSamePage = true")
    page.get_by_role("button", name="Test my settings").click()

    expect(page.locator("#settings-check")).to_have_text(
        re.compile(r"^Your settings work: we signed in to .* Nothing was sent\.$")
    )
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded instead of answering in place"
    expect(page.get_by_label("Password or app password")).to_have_value(PASSWORD)  # ready to send
    screenshot(page, "settings-test-works")
    assert len(mail_server.received) == received
