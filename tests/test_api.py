"""The JSON API: shapes, hand-offs, and every error a client can cause (400, 404, 413, 422), never a 500."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from tests.support.letters import LAUNCH, un_letter
from webapp.core import validation
from webapp.extensions import db, get_redis
from webapp.letters import drafting
from webapp.models import Letter


def letter_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Letter))


def test_campaign_list_and_detail(client):
    campaigns = client.get("/api/v1/campaigns").get_json()["campaigns"]
    assert [c["slug"] for c in campaigns] == [LAUNCH]
    assert set(campaigns[0]) == {"slug", "title", "summary"}

    detail = client.get(f"/api/v1/campaigns/{LAUNCH}").get_json()
    assert {"slug", "title", "summary", "updates", "templates", "targets"} <= set(detail)
    assert detail["updates"][0]["date"] == "2026-11-29"
    targets = {t["id"]: t for t in detail["targets"]}
    assert set(targets) == {"general-dynamics-ceo", "ohchr", "us-mission-un"}
    assert targets["general-dynamics-ceo"]["channels"] == ["call", "print"]  # by its head office; no public email
    assert "email address" in targets["general-dynamics-ceo"]["no_email_reason"]
    assert targets["ohchr"]["channels"] == ["smtp", "mailto"]
    assert targets["us-mission-un"]["channels"] == ["call", "print"]
    assert {t["slug"] for t in detail["templates"]} >= {"general-dynamics-open-the-doors", "un-human-rights-office"}
    for template in detail["templates"]:
        assert set(template) >= {"slug", "name", "subject", "channels"}


def test_unknown_campaign_is_json_404(client):
    response = client.get("/api/v1/campaigns/nope")
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_mailto_submission_is_handed_off_and_counted(client, supporter):
    response = client.post("/api/v1/submissions", json=un_letter(supporter))
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) >= {"id", "status_url", "letters"}
    assert response.headers["Location"].endswith(f"/api/v1/submissions/{body['id']}")
    letter = body["letters"][0]
    assert letter["status"] == "handed_off"
    assert letter["target"] == {
        "id": "ohchr",
        "name": "UN Human Rights Office (OHCHR)",
        "display_name": "UN Human Rights Office (OHCHR)",
    }
    assert letter["mailto_url"].startswith("mailto:petitions@ohchr.org?subject=")
    assert "+" not in letter["mailto_url"]
    assert unquote(letter["mailto_url"].split("&body=")[1]) == letter["body"].replace("\n", "\r\n")

    again = client.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert again["letters"][0]["status"] == "handed_off"
    assert again["done"] is True

    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert totals["totals"]["handed_off"] == 1
    assert {
        "id": "ohchr",
        "name": "UN Human Rights Office (OHCHR)",
        "sent": 0,
        "handed_off": 1,
        "failed": 0,
        "confirmed": 0,
        "went_out": 0,  # shown, not confirmed: not quoted as a letter that went out
        "shown_only": 1,
    } in totals["targets"]


def test_the_response_never_contains_the_password(client, supporter, mail_server, celery_worker):
    payload = un_letter(supporter, channel="smtp", smtp=mail_server.smtp_settings())
    created = client.post("/api/v1/submissions", json=payload)
    assert created.status_code == 202
    fetched = client.get(f"/api/v1/submissions/{created.get_json()['id']}")
    for response in (created, fetched):
        assert mail_server.smtp_settings()["password"].encode() not in response.data


def test_supporter_edits_replace_the_rendered_letter(client, supporter):
    body = client.post(
        "/api/v1/submissions", json=un_letter(supporter, subject="My subject", body="My own words.")
    ).get_json()
    assert body["letters"][0]["subject"] == "My subject"
    assert body["letters"][0]["body"] == "My own words."
    assert body["letters"][0]["personal_share"] == 1.0


def test_email_is_stored_normalized(client, supporter, app):
    from webapp.models import Submission

    body = client.post("/api/v1/submissions", json=un_letter({**supporter, "email": "  Maria@EXAMPLE.org "})).get_json()
    with app.app_context():
        assert db.session.get(Submission, body["id"]).supporter_email == "Maria@example.org"


@pytest.mark.parametrize(
    "data,content_type",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_json_is_400(client, data, content_type):
    response = client.post("/api/v1/submissions", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


def test_body_over_the_limit_is_413(client, supporter):
    payload = un_letter({**supporter, "note": "x" * validation.REQUEST_MAX})
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 413
    assert response.get_json()["status"] == 413


@pytest.mark.parametrize(
    "change,field",
    [
        ({"supporter": {"name": "", "email": "a@example.org", "zip": "94110"}}, "supporter.name"),
        ({"supporter": {"name": "A", "email": "not-an-email", "zip": "94110"}}, "supporter.email"),
        ({"supporter": {"name": "A", "email": "a@example.org", "zip": "9411"}}, "supporter.zip"),
        ({"supporter": {"name": "A", "email": "a@example.org", "zip": "94110", "note": "x" * 5001}}, "supporter.note"),
        ({"supporter": {"name": "A", "email": "a@example.org"}}, "supporter.zip"),
        ({"targets": []}, "targets"),
        ({"targets": ["ohchr", "ohchr"]}, "targets"),
        ({"targets": ["general-dynamics-ceo"]}, "targets"),
        ({"targets": ["us-mission-un"]}, "targets"),
        ({"channel": "carrier-pigeon"}, "channel"),
        ({"channel": "smtp"}, "smtp"),
        (
            {
                "channel": "smtp",
                "smtp": {"host": "smtp.example.org", "port": 587, "security": "tls?", "username": "u", "password": "p"},
            },
            "smtp.security",
        ),
        (
            {
                "channel": "smtp",
                "smtp": {"host": "mail.example.org", "port": 6379, "security": "ssl", "username": "u", "password": "p"},
            },
            "smtp.host",
        ),
        ({"subject": ""}, "subject"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 20001}, "body"),
        ({"unexpected": 1}, "unexpected"),
        ({"targets": "ohchr"}, "targets"),
    ],
)
def test_invalid_fields_are_422_with_the_field_path(client, supporter, app, change, field):
    payload = {**un_letter(supporter), **change}
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field in errors, errors
    assert all(isinstance(message, str) and message for message in errors[field])
    assert letter_count(app) == 0


def test_email_target_without_email_explains_why(client, supporter):
    response = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter, template="general-dynamics-open-the-doors", targets=["general-dynamics-ceo"]),
    )
    assert response.status_code == 422
    assert "don't know a public email address" in response.get_json()["errors"]["targets"][0]


@pytest.mark.parametrize(
    "change",
    [{"campaign": "no-such-campaign"}, {"template": "no-such-letter"}, {"targets": ["no-such-target"]}],
)
def test_unknown_names_are_404(client, supporter, change, app):
    response = client.post("/api/v1/submissions", json={**un_letter(supporter), **change})
    assert response.status_code == 404
    assert letter_count(app) == 0


def test_a_target_id_no_record_could_have_is_422_and_not_repeated_back(client, supporter, app):
    """Target ids are at most 64 characters (Target.id): a longer one is refused by the schema, per field, and
    the answer doesn't carry the stranger's text back."""
    response = client.post("/api/v1/submissions", json=un_letter(supporter, targets=["ohchr", "x" * 20_000]))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["targets.1"]
    assert len(response.get_data()) < 1000
    assert letter_count(app) == 0


def test_target_outside_the_campaign_is_422_and_nothing_is_sent(client, supporter, app):
    from webapp.models import Target

    with app.app_context():
        if db.session.get(Target, "elsewhere") is None:
            db.session.add(Target(id="elsewhere", kind="person", name="Someone Else", email="else@example.org"))
            db.session.commit()
    response = client.post("/api/v1/submissions", json=un_letter(supporter, targets=["ohchr", "elsewhere"]))
    assert response.status_code == 422
    assert "targets" in response.get_json()["errors"]
    assert letter_count(app) == 0


def test_unknown_submission_is_404(client):
    assert client.get("/api/v1/submissions/doesnotexist").status_code == 404


def test_openapi_document_lists_the_endpoints(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/v1/campaigns",
        "/api/v1/campaigns/{slug}",
        "/api/v1/campaigns/{slug}/totals",
        "/api/v1/submissions",
        "/api/v1/submissions/{id}",
        "/healthz",
    ):
        assert path in document["paths"]


def test_health(app, client):
    with app.app_context():
        get_redis().set("outcry:worker:test:1", "alive", ex=60)  # a delivery worker's heartbeat (tasks/celery.py)
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["redis"] == "ok"
    assert response.get_json()["worker"] == "ok"
    assert response.get_json()["problems"] == []


def test_the_objects_submit_returns_are_the_rows_it_wrote(app, supporter):
    """The outbox is written with plain INSERTs (webapp/letters/service.py): the returned objects must still be
    persistent and agree with their rows column by column, defaults included."""
    from webapp.campaigns.service import find_campaign
    from webapp.letters import service as letters
    from webapp.models import Submission, Target

    with app.app_context():
        campaign = find_campaign(LAUNCH)
        template = next(t for t in campaign.templates if t.slug == "un-human-rights-office")
        person = drafting.Supporter(**supporter)
        submission = letters.submit(campaign, template, [db.session.get(Target, "ohchr")], person, "mailto")
        returned = {
            obj: {column.key: getattr(obj, column.key) for column in obj.__table__.columns}
            for obj in (submission, *submission.letters)
        }
        assert all(db.session.object_session(obj) is db.session() for obj in returned)
        assert not db.session.new and not db.session.dirty  # nothing left for a flush to write again
        db.session.expire_all()
        for obj, values in returned.items():
            db.session.refresh(obj)
            assert {key: getattr(obj, key) for key in values} == values
        assert isinstance(submission, Submission) and submission.letters[0].attempts == 0
