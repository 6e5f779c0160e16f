"""The field rules at their edges, as an attacker or a phone keyboard meets them: encoded words with spaces
inside, email domains in other scripts, full-width and foreign digits in ZIP codes, the SMTP user name on the
pages, and control characters in what organizers write (campaign titles, letter names, subjects)."""

from __future__ import annotations

import html

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, un_letter
from tests.support.waiting import wait_for
from webapp.core import validation
from webapp.extensions import db
from webapp.models import Letter, Submission

API = "/api/v1/submissions"


# ---- encoded words --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "=? utf-8 ?q?The_President?=",  # whitespace inside: Python decodes it while writing the header
        "=?utf-8? q ?x?=",
        "=?utf-8?q?x?=",
        "Reunite them =?",
    ],
)
def test_any_encoded_word_start_in_a_name_or_subject_is_refused_with_a_message(client, supporter, text):
    by_name = client.post(API, json=un_letter({**supporter, "name": text}))
    assert by_name.status_code == 422
    assert by_name.get_json()["errors"]["supporter.name"] == [
        "Your name contains '=?', which mail programs would decode; please reword it."
    ]
    by_subject = client.post(API, json=un_letter(supporter, subject=text))
    assert by_subject.status_code == 422
    assert "which mail programs would decode" in by_subject.get_json()["errors"]["subject"][0]


# ---- email domains in other scripts ---------------------------------------------------------------------------


def test_an_email_domain_in_another_script_is_kept_in_its_ascii_form_and_the_letter_goes_out(
    app, client, supporter, mail_server, celery_worker
):
    """It used to be stored as typed; the worker then logged in and crashed encoding MAIL FROM, on every sweep."""
    created = client.post(
        API, json=un_letter({**supporter, "email": "maria@bücher.example"}, "smtp", smtp=mail_server.smtp_settings())
    )
    assert created.status_code == 202, created.get_json()
    letter_id = created.get_json()["letters"][0]["id"]
    with app.app_context():
        assert db.session.get(Submission, created.get_json()["id"]).supporter_email == "maria@xn--bcher-kva.example"
        wait_for(lambda: db.session.get(Letter, letter_id, populate_existing=True).status == "sent", what="sending")
    assert [message.mail_from for message in mail_server.received] == ["maria@xn--bcher-kva.example"]


def test_an_email_address_that_needs_unicode_before_the_at_is_refused_with_a_message(client, supporter):
    response = client.post(API, json=un_letter({**supporter, "email": "maría@example.org"}))
    assert response.status_code == 422
    assert response.get_json()["errors"]["supporter.email"]


# ---- ZIP codes ------------------------------------------------------------------------------------------------


def test_full_width_zip_digits_are_read_as_the_digits_they_are():
    assert validation.zip_code("９４１１０") == "94110"
    assert validation.zip_code("９４１１０－１２３４") == "94110-1234"


@pytest.mark.parametrize("value", ["٩٤١١٠", "९४११०", "9411০"])
def test_digits_of_other_scripts_are_not_a_zip_code(client, supporter, value):
    with pytest.raises(validation.FieldError):
        validation.zip_code(value)
    response = client.post(API, json=un_letter({**supporter, "zip": value}))
    assert response.status_code == 422
    assert "supporter.zip" in response.get_json()["errors"]


# ---- the SMTP user name on the pages --------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["=? utf-8 ?q?x?=@example.org", "ana\u202e@example.org", "ana\u2028@example.org"])
def test_the_pages_apply_the_apis_rule_to_the_smtp_user_name(client, supporter, username):
    page = client.get(f"/c/{LAUNCH}/write?target=ohchr")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
    }
    preview = client.post(f"/c/{LAUNCH}/write", data=data, follow_redirects=True)  # to the preview's own page
    fields = form_fields(preview.get_data(as_text=True))
    fields.update(
        action=["smtp"],
        provider=["other"],
        smtp_host=["smtp.example.org"],
        smtp_port=["587"],
        smtp_security=["starttls"],
        smtp_username=[username],
        smtp_password=["secret-pass"],
    )
    response = client.post(f"/c/{LAUNCH}/send", data=fields)
    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    assert "The user name" in text
    api = client.post(
        API,
        json=un_letter(
            supporter,
            "smtp",
            smtp={
                "host": "smtp.example.org",
                "port": 587,
                "security": "starttls",
                "username": username,
                "password": "p",
            },
        ),
    )
    assert api.status_code == 422 and "smtp.username" in api.get_json()["errors"]


def test_the_zip_lookup_reads_full_width_digits_and_refuses_other_scripts(client):
    from webapp.congress.service import InvalidZip, normalize_zip

    assert normalize_zip("９４１１０") == "94110"
    with pytest.raises(InvalidZip):
        normalize_zip("٩٤١١٠")
