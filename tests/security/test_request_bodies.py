"""What the JSON API reads: only `application/json` (a 415 otherwise, so no web page can make its visitors'
browsers submit through a plain form or `text/plain` post), and JSON nested past the parser's depth is a
counted 400, not a 500 that the rate limiter never saw."""

from __future__ import annotations

import json

import pytest

from tests.support.letters import LAUNCH, un_letter

API = "/api/v1/submissions"


def deeply_nested(depth: int = 20_000) -> bytes:
    return b'{"campaign": "' + LAUNCH.encode() + b'", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what <form enctype="text/plain"> on any site posts, without a CORS preflight
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/x-json",
        None,
    ],
)
def test_a_valid_submission_in_any_other_content_type_is_415(client, supporter, content_type):
    body = json.dumps(un_letter(supporter)).encode()
    response = client.post(API, data=body, content_type=content_type)
    assert response.status_code == 415
    assert response.get_json() == {
        "error": "Send the request body as JSON, with the header 'Content-Type: application/json'.",
        "status": 415,
    }
    assert client.post(API, data=body, content_type="application/json; charset=utf-8").status_code == 202


def test_the_confirm_endpoint_wants_json_too(client, supporter):
    letter = client.post(API, json=un_letter(supporter)).get_json()["letters"][0]["id"]
    refused = client.post(f"/api/v1/letters/{letter}/confirm", data='{"outcome": "sent"}', content_type="text/plain")
    assert refused.status_code == 415
    assert client.post(f"/api/v1/letters/{letter}/confirm", json={"outcome": "sent"}).status_code == 200


def test_json_nested_too_deeply_is_400_not_500(client):
    response = client.post(API, data=deeply_nested(), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "The request body is not valid JSON.", "status": 400}


def test_json_nested_too_deeply_still_counts_against_the_limit(make_app, supporter):
    """The limiter reads the body to find the campaign (a lifted campaign has larger budgets); a body that broke
    that read used to let the request through uncounted."""
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="3 per hour", RATELIMIT_DEFAULT="1000 per minute")
    client = limited.test_client()
    env = {"REMOTE_ADDR": "203.0.113.61"}
    for _ in range(3):
        response = client.post(API, data=deeply_nested(), content_type="application/json", environ_base=env)
        assert response.status_code == 400
    assert client.post(API, json=un_letter(supporter), environ_base=env).status_code == 429
