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


# A link leads somewhere: a web address with a host, one line, nothing hidden in it.
NOT_LINKS = ["https://", "https:///records", "http://[::1", "https://acme.example:99999/", "https://acme.example/\x00", "https://acme\u200b.example",
             "https://acme.example/\u202egpj.exe", "javascript:alert(1)"]  # fmt: skip


@pytest.mark.parametrize("url", NOT_LINKS)
def test_a_resource_link_that_leads_nowhere_is_refused_beside_it(organizer_api, own_campaign, url):
    response = organizer_api.put(
        f"{API}/campaigns/{own_campaign}", json={"resources": [{"kind": "donate", "name": "Legal aid", "url": url}]}
    )
    assert response.status_code == 422, response.get_json()
    assert "Links must start with https://" in response.get_json()["errors"]["resources.0.url"][0]


@pytest.mark.parametrize("url", NOT_LINKS)
@pytest.mark.parametrize("field", ["website", "contact_form"])
def test_a_target_link_that_leads_nowhere_is_refused_beside_it(organizer_api, own_campaign, field, url):
    response = organizer_api.post(f"{API}/campaigns/{own_campaign}/targets", json={"name": "Acme Corp", field: url})
    assert response.status_code == 422, response.get_json()
    assert "Links must start with https://" in response.get_json()["errors"][field][0]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "Legal\x00 aid", "single line without control characters"),
        ("name", "Legal aid\u202e", "single line without control characters"),
        ("description", "Free\x00 lawyers", "control character"),
    ],
)
def test_control_characters_in_a_resource_are_refused_with_a_message(organizer_api, own_campaign, field, value,
                                                                     message):  # fmt: skip
    resource = {"kind": "donate", "name": "Legal aid", "url": "https://legal-aid.example", field: value}
    response = organizer_api.put(f"{API}/campaigns/{own_campaign}", json={"resources": [resource]})
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["errors"][f"resources.0.{field}"][0]
