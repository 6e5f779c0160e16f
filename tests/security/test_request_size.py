"""Request size: 413 above 64 KiB on the API and the pages (with a message saying so), and every field's cap
enforced with a message naming the field and the limit."""

from __future__ import annotations

import html
import json

import pytest

from tests.conftest import csrf_token
from tests.support.letters import un_letter
from tests.support.pages import WRITE

LIMIT = 64 * 1024


def padded(supporter, size: int) -> bytes:
    """A JSON body of exactly `size` bytes (padding in whitespace, which JSON ignores)."""
    data = json.dumps(un_letter(supporter)).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


def test_api_takes_64_kib_and_refuses_one_byte_more(client, supporter):
    assert (
        client.post("/api/v1/submissions", data=padded(supporter, LIMIT), content_type="application/json").status_code
        == 202
    )
    refused = client.post("/api/v1/submissions", data=padded(supporter, LIMIT + 1), content_type="application/json")
    assert refused.status_code == 413
    assert refused.get_json() == {"error": refused.get_json()["error"], "status": 413}
    assert "64 KB" in refused.get_json()["error"]


def test_a_huge_form_post_is_413_with_a_page_that_says_why(client, supporter):
    page = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
        "note": "x" * (LIMIT + 10),
    }
    refused = client.post(WRITE, data=data)
    assert refused.status_code == 413
    assert "the limit is 64 KB" in html.unescape(refused.get_data(as_text=True))


@pytest.mark.parametrize(
    "field,value,path,message",
    [
        ("name", "n" * 101, "supporter.name", "at most 100 characters"),
        ("email", "e" * 250 + "@example.org", "supporter.email", "at most 254 characters"),
        ("address", "a" * 501, "supporter.address", "at most 500 characters"),
        ("note", "n" * 5001, "supporter.note", "at most 5,000 characters"),
        ("subject", "s" * 201, "subject", "at most 200 characters"),
        ("body", "b" * 20001, "body", "at most 20,000 characters"),
    ],
)
def test_field_caps_are_422_with_a_message(client, supporter, field, value, path, message):
    if path.startswith("supporter."):
        body = un_letter({**supporter, field: value})
    else:
        body = un_letter(supporter, **{field: value})
    response = client.post("/api/v1/submissions", json=body)
    assert response.status_code == 422
    assert any(message in text for text in response.get_json()["errors"][path]), response.get_json()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "n" * 101, "at most 100 characters"),
        ("note", "n" * 5001, "at most 5,000 characters"),
        ("address", "a" * 501, "at most 500 characters"),
    ],
)
def test_field_caps_on_the_form_keep_the_page_and_say_what_is_wrong(client, supporter, field, value, message):
    page = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
        field: value,
    }
    response = client.post(WRITE, data=data)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
