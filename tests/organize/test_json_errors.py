"""The JSON APIs (the supporter API, the organizer API, the Congress lookup) answer errors through one responder (webapp/core/json_errors.py): the same shapes, as
openapi.yaml documents them, whichever feature's invalid-input error (webapp/core/invalid.py) was raised."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import HTTPException

from tests.organize.conftest import ORGANIZER, token_for
from tests.support.letters import LAUNCH, un_letter
from webapp.campaigns.content import ContentInvalid
from webapp.core.invalid import Invalid
from webapp.core.json_errors import _json_invalid
from webapp.core.validation import FieldError
from webapp.cwc.address import AddressInvalid
from webapp.embed.service import InvalidOrigins
from webapp.letters.errors import SubmissionInvalid
from webapp.organize.invalid import TemplateInvalid
from webapp.organizers import accounts


@pytest.fixture
def token(app, people) -> str:
    return token_for(app, ORGANIZER)


def test_a_body_that_breaks_its_schema_is_the_same_422_on_both_apis(client, token, supporter):
    public = client.post("/api/v1/submissions", json={**un_letter(supporter), "channel": "pigeon"})
    organizer = client.post(
        "/api/v1/organize/campaigns", json={"title": 7}, headers={"Authorization": f"Bearer {token}"}
    )
    for response, field in ((public, "channel"), (organizer, "title")):
        assert response.status_code == 422
        body = response.get_json()
        assert set(body) == {"errors"}
        assert body["errors"][field] and all(isinstance(m, str) for m in body["errors"][field])


def test_an_unknown_campaign_is_the_same_404_on_both_apis(client, token):
    public = client.get("/api/v1/campaigns/no-such-campaign")
    organizer = client.get("/api/v1/organize/campaigns/no-such-campaign", headers={"Authorization": f"Bearer {token}"})
    for response in (public, organizer):
        assert response.status_code == 404
        assert response.get_json() == {"error": "No campaign 'no-such-campaign'.", "status": 404}


def test_every_api_blueprint_answers_its_errors_through_the_one_responder(app):
    """Whatever blueprint serves /api/…, its invalid input goes through webapp/core/json_errors.py, and its HTTP errors
    through the app's one handler (webapp/errors.py), which the routing errors (a 405, an unknown path) reach too."""
    api = [bp for bp in app.iter_blueprints() if (bp.url_prefix or "").startswith("/api/")]
    assert {bp.name for bp in api} >= {"api", "organize_api", "congress"}
    for blueprint in api:
        handlers = app.error_handler_spec[blueprint.name][None]
        assert HTTPException not in handlers, blueprint.name  # no second responder answering them its own way
        assert handlers.get(Invalid) is _json_invalid, blueprint.name
    assert app.error_handler_spec[None][None][HTTPException].__module__ == "webapp.errors"


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("post", "/api/v1/campaigns", "GET"),
        ("delete", "/api/v1/congress", "GET"),
        ("put", "/api/v1/organize/campaigns", "POST"),
        ("get", f"/c/{LAUNCH}/send", "POST"),  # a page too
    ],
)
def test_a_method_a_path_does_not_take_is_a_405_that_says_which_it_does(client, method, path, allowed):
    """RFC 9110: a 405 names the methods the path takes, in Allow; a client reading only the body learns it too."""
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert allowed in {name.strip() for name in response.headers.get("Allow", "").split(",")}
    if path.startswith("/api/"):
        assert response.get_json() == {"error": "That page can't be used that way.", "status": 405}


def test_the_congress_lookup_answers_like_the_other_apis(client):
    unknown = client.get("/api/v1/congress", query_string={"zip": "00000"})
    assert unknown.status_code == 404
    assert set(unknown.get_json()) == {"error", "status"} and unknown.get_json()["status"] == 404
    malformed = client.get("/api/v1/congress", query_string={"zip": "9410"})
    assert malformed.status_code == 422
    body = malformed.get_json()
    assert set(body) == {"errors"} and body["errors"]["zip"] and all(isinstance(m, str) for m in body["errors"]["zip"])


def test_a_missing_token_is_a_401_that_names_the_scheme(client):
    response = client.get("/api/v1/organize/campaigns")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="outcry organizer API"'
    assert "Authorization: Bearer" in response.get_json()["error"]


@pytest.mark.parametrize(
    "error",
    [
        SubmissionInvalid({"supporter.email": ["Enter your email address."]}),
        ContentInvalid({"email": ["Enter an email address like name@example.org."]}),
        AddressInvalid({"street": ["Enter your street address."]}),
        TemplateInvalid([], {"channels": ["Choose how supporters send this letter."]}),
        InvalidOrigins(["“here” is not a site address."]),
        FieldError("Enter a 5-digit ZIP code.", field="zip"),
        accounts.AccountError("That password is too long."),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_features_invalid_input_is_one_type_the_responder_answers(error):
    """What lets one responder answer them all: each is an Invalid with field → messages."""
    assert isinstance(error, Invalid)
    assert all(isinstance(m, str) for messages in error.errors.values() for m in messages)
    assert error.body()["errors"] == error.errors and error.status == 422
