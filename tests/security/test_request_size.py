"""Request size: the largest letter a supporter may send, in any script, is read and answered; past the limit derived
from the field caps (validation.REQUEST_MAX), a 413 on the API and the pages (with a page in the visit's language
saying so and how to get the text back), and every field's cap enforced with a message naming the field and the
limit."""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

import pytest

from tests.conftest import csrf_token
from tests.support.letters import un_letter
from tests.support.pages import SEND, WRITE, preview, send_form
from webapp.core import validation

LIMIT = validation.REQUEST_MAX
WIDE = "\U0001f5e3"  # 🗣: four bytes of UTF-8, twelve once a form writes each byte as %XX


def padded(supporter, size: int) -> bytes:
    """A JSON body of exactly `size` bytes (padding in whitespace, which JSON ignores)."""
    data = json.dumps(un_letter(supporter)).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


def test_api_takes_the_limit_and_refuses_one_byte_more(client, supporter):
    assert (
        client.post("/api/v1/submissions", data=padded(supporter, LIMIT), content_type="application/json").status_code
        == 202
    )
    refused = client.post("/api/v1/submissions", data=padded(supporter, LIMIT + 1), content_type="application/json")
    assert refused.status_code == 413
    assert refused.get_json() == {"error": refused.get_json()["error"], "status": 413}
    assert refused.get_json()["error"] == "That was more text than we can take at once. Please shorten your letter."


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
    page = html.unescape(refused.get_data(as_text=True))
    assert "more text than we can take at once" in page
    assert "What you wrote is still in the form: use your browser's Back button." in page


def test_a_request_that_carries_no_letter_keeps_the_small_limit(client, supporter):
    """Only the views a letter is posted to take a letter's size (security/bodies.takes_a_letter); the language
    switch and the rest stop at 64 KiB."""
    page = client.get("/").get_data(as_text=True)
    refused = client.post("/language", data={"csrf_token": csrf_token(page), "language": "es", "next": "x" * 70_000})
    assert refused.status_code == 413


def _largest_send(client, supporter) -> dict[str, list[str]]:
    """The send step's form with every field at its cap in four-byte characters, and a letter to each of the most
    targets one send may name (LETTERS_MAX), as the preview page would submit it."""
    fields = send_form(preview(client, supporter))
    fields.update(
        name=[WIDE * validation.NAME_MAX],
        address=[WIDE * validation.ADDRESS_MAX],
        note=[WIDE * validation.NOTE_MAX],
        action=["mailto"],
    )
    first = {key[len("letters-0-") :]: value for key, value in fields.items() if key.startswith("letters-0-")}
    for index in range(validation.LETTERS_MAX):
        for key, value in first.items():
            fields[f"letters-{index}-{key}"] = value
        fields[f"letters-{index}-subject"] = [WIDE * validation.SUBJECT_MAX]
        fields[f"letters-{index}-body"] = [WIDE * validation.BODY_MAX]
    return fields


def test_the_largest_letter_in_four_byte_characters_is_answered_not_refused(client, supporter):
    """A supporter writing in emoji (or any script) at every cap is told what the form says, never a 413 that
    throws away what they typed: the limit is the caps times the widest encoding, not a round number."""
    fields = _largest_send(client, supporter)
    size = len(urlencode(fields, doseq=True))
    assert 64 * 1024 < size <= LIMIT
    answer = client.post(SEND, data=urlencode(fields, doseq=True), content_type="application/x-www-form-urlencoded")
    assert answer.status_code in (303, 422), answer.status_code  # the form's own answer
    one_letter = send_form(preview(client, supporter))
    one_letter.update(action=["mailto"], note=[WIDE * validation.NOTE_MAX])
    one_letter["letters-0-body"] = [WIDE * validation.BODY_MAX]
    sent = client.post(SEND, data=one_letter)
    assert sent.status_code == 303 and "/s/" in sent.headers["Location"]  # the letter was written


def test_past_the_derived_limit_is_413_in_the_visits_language_with_the_way_back(client, supporter):
    page = client.get("/")
    client.post("/language", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "language": "es"})
    fields = _largest_send(client, supporter)
    fields["letters-0-body"] = [fields["letters-0-body"][0] + "x" * (LIMIT - len(urlencode(fields, doseq=True)) + 1)]
    body = urlencode(fields, doseq=True).encode()
    assert len(body) == LIMIT + 1
    refused = client.post(SEND, data=body, content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 413
    text = html.unescape(refused.get_data(as_text=True))
    assert '<html lang="es"' in text
    assert "Es más texto del que podemos recibir de una sola vez. Acorta un poco tu carta, por favor." in text
    assert "Lo que escribiste sigue en el formulario: usa el botón «Atrás» de tu navegador." in text
    assert "more text than we can take" not in text


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
