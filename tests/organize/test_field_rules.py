"""What organizers write meets the supporters' field rules: no NUL (PostgreSQL refuses it: a 500 there) or other
control characters in a campaign's title and summary, a letter's name, subject and body; no encoded word in a
subject, which becomes a mail header."""

from __future__ import annotations

import pytest

from tests.organize.conftest import ORGANIZER, token_for

API = "/api/v1/organize"
LETTER = {
    "name": "Ask Dana",
    "subject": "Please open the doors",
    "body": "Dear {{ target.salutation }},\n\n{{ supporter.note }}\n\n{{ supporter.name }}",
    "targets": ["dana-example"],
    "channels": ["smtp", "mailto"],
}


@pytest.fixture
def organizer_api(app, people):
    token = token_for(app, ORGANIZER)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\u202e", "\u2028", "\n"])
def test_control_characters_in_a_campaign_title_are_refused_with_a_message(organizer_api, bad):
    response = organizer_api.post(f"{API}/campaigns", json={"title": f"Free them{bad}now", "slug": "free-them"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]["title"] == ["The title must be a single line without control characters."]


def test_a_nul_in_a_summary_is_refused(organizer_api):
    response = organizer_api.post(f"{API}/campaigns", json={"title": "Free them", "summary": "Act\x00 now"})
    assert response.status_code == 422
    assert "control character" in response.get_json()["errors"]["summary"][0]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("subject", "Please open\x00 the doors", "single line without control characters"),
        ("subject", "Please =? utf-8 ?q?resign?=", "which mail programs would decode"),
        ("name", "Ask\x07 Dana", "single line without control characters"),
        ("body", "Dear {{ target.salutation }},\x00\n{{ supporter.note }}", "control character"),
    ],
)
def test_control_characters_in_a_letter_are_refused_with_a_message(organizer_api, own_campaign, field, value, message):
    response = organizer_api.post(f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, field: value})
    assert response.status_code == 422, response.get_json()
    assert any(message in text for text in response.get_json()["errors"][field]), response.get_json()
    assert organizer_api.post(f"{API}/campaigns/{own_campaign}/templates", json=LETTER).status_code == 201
