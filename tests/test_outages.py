"""Intake while a part is down: with Redis unreachable, hand-offs still go through (the limits let them pass and
say so in the log) and own-email sending answers 503 with words, storing no password anywhere; with the
database unreachable, every page and the API answer 503 with words (never a 500), and the form keeps the letter."""

from __future__ import annotations

import html

import pytest

from tests.conftest import csrf_token
from tests.support.letters import LAUNCH, un_letter
from tests.support.mailserver import free_port

API = "/api/v1/submissions"


@pytest.fixture
def redis_down(make_app):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    return make_app(REDIS_URL=dead, CREDENTIALS_REDIS_URL=dead, RATELIMIT_ENABLED=True).test_client()


@pytest.fixture
def database_down(make_app, database_url, tmp_path):
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'outcry.db'}"  # cannot be opened
    else:
        url = f"postgresql://outcry@127.0.0.1:{free_port()}/outcry"  # nothing listens
    return make_app(DATABASE_URL=url).test_client()


def test_hand_offs_go_through_while_redis_is_down(redis_down, supporter, log_records):
    response = redis_down.post(API, json=un_letter(supporter))
    assert response.status_code == 202
    assert response.get_json()["letters"][0]["status"] == "handed_off"
    assert "limits.unavailable check=submission error=ConnectionError" in log_records.text
    assert redis_down.get(f"/c/{LAUNCH}").status_code == 200


def test_own_email_sending_says_try_again_while_redis_is_down(redis_down, supporter, mail_server):
    response = redis_down.post(API, json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))
    assert response.status_code == 503
    assert response.get_json()["error"] == (
        "Your password could not be stored safely just now; please try again in a minute."
    )


def test_every_answer_is_a_503_with_words_while_the_database_is_down(database_down, supporter):
    api = database_down.post(API, json=un_letter(supporter))
    assert api.status_code == 503 and api.headers["Retry-After"] == "60"
    assert "We can't reach our database just now" in api.get_json()["error"]
    page = database_down.get(f"/c/{LAUNCH}")
    assert page.status_code == 503
    assert "We can&#39;t reach our database just now" in page.get_data(as_text=True)
    status = database_down.get(f"{API}/no-such-submission")
    assert status.status_code == 503


def test_a_letter_sent_from_the_page_while_the_database_is_down_is_kept(app, client, database_down, supporter):
    """The page was loaded just before the database went away; sending it answers 503 and says the words are safe."""
    page = client.get(f"/c/{LAUNCH}/write?target=ohchr")
    cookie = client.get_cookie("session", domain=app.config["SERVER_NAME"])
    database_down.set_cookie("session", cookie.value, domain=cookie.domain)
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
    }
    response = database_down.post(f"/c/{LAUNCH}/write", data=data)
    assert response.status_code == 503
    text = html.unescape(response.get_data(as_text=True))
    assert "We can't reach our database just now" in text and "What you wrote is still in the form" in text
