"""A letter the supporter's own mail server refused, sent another way from its status page: the ways its target
really has (their mail app, a printed letter), as a new hand-off counted on its own; a real worker, real Redis and a
real SMTP server (aiosmtpd) refusing the password."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.support.pages import text_of
from tests.test_delivery import submit_smtp, wait_terminal
from webapp.extensions import db
from webapp.models import LetterTemplate, Submission, Target, TargetTally
from webapp.organize import letter_templates
from webapp.privacy import service as privacy

pytestmark = pytest.mark.usefixtures("celery_worker")

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}


def _refused(client, supporter, mail_server, **extra) -> dict:
    """A letter to the UN office that failed because the server refused the password: its API view."""
    created = submit_smtp(client, supporter, mail_server, smtp=mail_server.smtp_settings(password="wrong"), **extra)
    (letter,) = wait_terminal(client, created["id"])["letters"]
    assert letter["status"] == "failed" and "rejected the user name or password" in letter["error"]
    return {**letter, "submission_id": created["id"]}


def _ways(page: str, letter_id: str) -> list[str]:
    """The "send it another way" buttons the status page shows for a letter."""
    if f'id="another-way-{letter_id}"' not in page:
        return []
    block = page.split(f'id="another-way-{letter_id}"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'name="channel" value="(\w+)"', block)


def _tally(app, target_id: str) -> tuple[int, int, int]:
    with app.app_context():
        row = db.session.scalar(select(TargetTally).where(TargetTally.target_id == target_id))
        return (row.sent, row.handed_off, row.failed) if row else (0, 0, 0)


def test_a_refused_password_offers_the_mail_app_and_hands_off_the_same_letter(client, supporter, mail_server, app):
    refused = _refused(client, supporter, mail_server)
    status = client.get(f"/s/{refused['submission_id']}")
    page = status.get_data(as_text=True)
    # After the password form: the ways the UN office has (an email address, no postal address on record).
    assert _ways(page, refused["id"]) == ["mailto"]
    assert page.index('value="password"') < page.index(f'id="another-way-{refused["id"]}"')
    assert "Send it from my mail app" in text_of(status)
    handed = client.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto", "csrf_token": csrf_token(page)})
    assert handed.status_code == 303
    again_id = handed.headers["Location"].rsplit("/s/", 1)[1]
    (letter,) = client.get(f"/api/v1/submissions/{again_id}").get_json()["letters"]
    assert letter["channel"] == "mailto" and letter["status"] == "handed_off"
    assert letter["subject"] == refused["subject"] and letter["body"] == refused["body"]
    with app.app_context():
        assert db.session.get(Submission, again_id).letters[0].recipient == "petitions@ohchr.org"
    new_page = text_of(client.get(handed.headers["Location"]))
    assert "Open in my mail app" in new_page
    # The refused letter stays failed; the hand-off is counted on its own.
    (before,) = client.get(f"/api/v1/submissions/{refused['submission_id']}").get_json()["letters"]
    assert before["status"] == "failed"
    assert _tally(app, "ohchr") == (0, 1, 1)
    assert mail_server.received == []


def test_a_target_without_an_email_address_gets_no_mail_app_button(client, supporter, mail_server, app):
    """The organizers took the address away since (or never had one): recipients come only from target records, so
    only the ways the record still has are offered, and the mail app is refused if asked for anyway."""
    refused = _refused(client, supporter, mail_server)
    with app.app_context():
        target = db.session.get(Target, "ohchr")
        target.email, target.postal_address = None, "Palais Wilson\n1201 Geneva\nSwitzerland"
        db.session.commit()
    try:
        page = client.get(f"/s/{refused['submission_id']}").get_data(as_text=True)
        assert _ways(page, refused["id"]) == ["print"]
        token = csrf_token(page)
        asked = client.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto", "csrf_token": token})
        assert asked.status_code == 422
        assert "UN Human Rights Office (OHCHR)" in text_of(asked)
        assert _tally(app, "ohchr") == (0, 0, 1)
        printed = client.post(f"/l/{refused['id']}/another-way", data={"channel": "print", "csrf_token": token})
        assert printed.status_code == 303
        (letter,) = client.get(f"/api/v1/submissions/{printed.headers['Location'].rsplit('/s/', 1)[1]}").get_json()[
            "letters"
        ]
        assert letter["channel"] == "print" and letter["body"] == refused["body"]
    finally:
        with app.app_context():
            target = db.session.get(Target, "ohchr")
            target.email, target.postal_address = "petitions@ohchr.org", None
            db.session.commit()


def test_the_ways_are_offered_in_spanish_and_the_letter_stays_in_spanish(client, supporter, mail_server):
    refused = _refused(client, supporter, mail_server, language="es")
    status = client.get(f"/s/{refused['submission_id']}", headers=SPANISH)
    page = status.get_data(as_text=True)
    assert _ways(page, refused["id"]) == ["mailto"]
    text = text_of(status)
    assert "Enviarla desde mi app de correo" in text
    assert "O envía la carta a UN Human Rights Office (OHCHR) de otra forma:" in text
    handed = client.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto", "csrf_token": csrf_token(page)})
    view = client.get(f"/api/v1/submissions/{handed.headers['Location'].rsplit('/s/', 1)[1]}").get_json()
    assert view["language"] == "es" and view["letters"][0]["body"] == refused["body"]


def test_an_erased_or_retired_letter_says_so_plainly(client, supporter, mail_server, app):
    refused = _refused(client, supporter, mail_server)
    page = client.get(f"/s/{refused['submission_id']}").get_data(as_text=True)
    token = csrf_token(page)
    with app.app_context():
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
        letter_templates.set_template_active(template, False)
        db.session.commit()
    try:
        retired = text_of(client.get(f"/s/{refused['submission_id']}"))
        assert "The organizers no longer offer this letter" in retired
        asked = client.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto", "csrf_token": token})
        assert asked.status_code == 422 and "no longer offer this letter" in text_of(asked)
    finally:
        with app.app_context():
            template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
            letter_templates.set_template_active(template, True)
            db.session.commit()
    with app.app_context():
        assert privacy.forget_submission(refused["submission_id"])
    erased = client.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto", "csrf_token": token})
    assert erased.status_code == 422 and "Your details were deleted" in text_of(erased)
    assert _tally(app, "ohchr") == (0, 0, 1)


def test_sending_another_way_needs_the_pages_token_and_spends_the_submission_budget(
    client, supporter, mail_server, make_app
):
    """As on Congress's refused letters: a POST without the page's CSRF token is refused, and each hand-off spends
    the per-address budget every submission shares."""
    refused = _refused(client, supporter, mail_server)
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="1 per hour").test_client()
    page = limited.get(f"/s/{refused['submission_id']}").get_data(as_text=True)
    assert limited.post(f"/l/{refused['id']}/another-way", data={"channel": "mailto"}).status_code == 400
    data = {"channel": "mailto", "csrf_token": csrf_token(page)}
    assert limited.post(f"/l/{refused['id']}/another-way", data=data).status_code == 303
    assert limited.post(f"/l/{refused['id']}/another-way", data=data).status_code == 429
