"""The organizer API: bearer tokens (401 without, 403 for another's campaign), campaigns, templates refused with
the template error and its line (422), targets, totals as CSV — and the OpenAPI document describes it all."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from tests.organize.conftest import ADMIN, ORGANIZER, STRANGER, token_for
from tests.support.letters import LAUNCH, un_letter
from webapp.extensions import db
from webapp.models import Campaign
from webapp.organize import campaigns

API = "/api/v1/organize"
LETTER = {
    "name": "Ask Dana",
    "subject": "Open the records, {{ target.name }}",
    "body": "Dear {{ target.salutation }},\n\nPlease.\n\n{{ supporter.note }}\n\n{{ supporter.name }}\n",
    "targets": ["dana-example"],
    "channels": ["smtp", "mailto"],
}


@pytest.fixture
def api(app, people):
    """`api(email)`: a client whose requests carry that organizer's token."""

    def client_for(email: str):
        token = token_for(app, email)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return client_for


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer oc_" + "x" * 43, "Basic b3JnOnB3", "bearer"])
def test_a_missing_or_wrong_token_is_401_with_a_challenge(client, people, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(f"{API}/campaigns", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.get_json()["error"]


def test_a_session_cookie_does_not_open_the_api(as_admin):
    assert as_admin.get(f"{API}/campaigns").status_code == 401


def test_another_campaigns_organizer_gets_403_and_unknown_campaigns_404(app, api, own_campaign):
    stranger = api(STRANGER)
    requests = (
        ("get", f"/campaigns/{own_campaign}", None),
        ("put", f"/campaigns/{own_campaign}", {"title": "Mine now"}),
        ("get", f"/campaigns/{own_campaign}/templates", None),
        ("post", f"/campaigns/{own_campaign}/templates", LETTER),
        ("post", f"/campaigns/{own_campaign}/targets", {"name": "X"}),
        ("get", f"/campaigns/{own_campaign}/totals.csv", None),
    )
    # A draft of someone else's answers exactly like a campaign that does not exist: its slug stays private.
    for method, path, body in requests:
        response = getattr(stranger, method)(API + path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"] == f"No campaign '{own_campaign}'."
    assert stranger.get(f"{API}/campaigns/nope").get_json()["error"] == "No campaign 'nope'."
    with app.app_context():
        db.session.scalar(select(Campaign).where(Campaign.slug == own_campaign)).published = True
        db.session.commit()
    for method, path, body in requests:  # once published, the address is public: say why it is refused
        response = getattr(stranger, method)(API + path, json=body)
        assert response.status_code == 403, (method, path)
        assert "doesn't run the campaign" in response.get_json()["error"]


def test_campaigns_listed_created_and_changed(api, own_campaign):
    organizer = api(ORGANIZER)
    listed = organizer.get(f"{API}/campaigns").get_json()["campaigns"]
    assert [c["slug"] for c in listed] == [own_campaign]
    assert {c["slug"] for c in api(ADMIN).get(f"{API}/campaigns").get_json()["campaigns"]} >= {LAUNCH, own_campaign}

    created = organizer.post(f"{API}/campaigns", json={"title": "Second push", "summary": "More."})
    assert created.status_code == 201
    assert created.get_json()["slug"] == "second-push" and created.get_json()["published"] is False
    assert organizer.post(f"{API}/campaigns", json={"title": "Again", "slug": "second-push"}).status_code == 422
    assert organizer.post(f"{API}/campaigns", json={"title": "x", "colour": "red"}).status_code == 422

    refused = organizer.put(f"{API}/campaigns/second-push", json={"published": True})
    assert (
        refused.status_code == 422 and "Add at least one letter first" in refused.get_json()["errors"]["published"][0]
    )
    changed = organizer.put(
        f"{API}/campaigns/{own_campaign}",
        json={
            "title": "Renamed",
            "updates": [{"date": "2026-06-21", "text": "We're live."}],
            "resources": [{"kind": "donate", "name": "Legal aid", "url": "https://example.org"}],
        },
    )
    body = changed.get_json()
    assert changed.status_code == 200, body
    assert body["title"] == "Renamed" and body["updates"] == [{"date": "2026-06-21", "text": "We're live."}]
    assert body["resources"][0]["url"] == "https://example.org"
    bad = organizer.put(f"{API}/campaigns/{own_campaign}", json={"updates": [{"date": "June 21", "text": "x"}]})
    assert bad.status_code == 422 and "updates.0.date" in bad.get_json()["errors"]
    assert organizer.put(f"{API}/campaigns/{own_campaign}", json={"closed": True}).get_json()["closed"] is True


def test_a_put_refused_by_the_publish_check_changes_nothing_it_carried(api, own_campaign):
    """The publish check runs on the campaign as the PUT would leave it: emptying the summary in the same request
    refuses the publish, and the title and summary it carried stay as they were (one commit, at the end)."""
    organizer = api(ORGANIZER)
    letter = organizer.post(f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "active": True})
    assert letter.status_code == 201, letter.get_json()
    before = organizer.get(f"{API}/campaigns/{own_campaign}").get_json()
    assert before["summary"]
    refused = organizer.put(
        f"{API}/campaigns/{own_campaign}", json={"title": "Renamed", "summary": "", "published": True}
    )
    assert refused.status_code == 422 and "Write a summary" in refused.get_json()["errors"]["published"][0]
    after = organizer.get(f"{API}/campaigns/{own_campaign}").get_json()
    assert (after["title"], after["summary"], after["published"]) == (before["title"], before["summary"], False)


def test_a_put_that_mends_what_kept_the_campaign_unpublished_publishes_it(api, own_campaign):
    """The one PUT may write the missing summary and publish: the check asks the campaign as the PUT leaves it,
    not as it was before."""
    organizer = api(ORGANIZER)
    letter = organizer.post(f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "active": True})
    assert letter.status_code == 201, letter.get_json()
    assert organizer.put(f"{API}/campaigns/{own_campaign}", json={"summary": ""}).status_code == 200
    refused = organizer.put(f"{API}/campaigns/{own_campaign}", json={"published": True})
    assert refused.status_code == 422 and "Write a summary" in refused.get_json()["errors"]["published"][0]
    mended = organizer.put(
        f"{API}/campaigns/{own_campaign}", json={"summary": "Why the records must open.", "published": True}
    )
    assert mended.status_code == 200, mended.get_json()
    assert (mended.get_json()["summary"], mended.get_json()["published"]) == ("Why the records must open.", True)


def test_an_invalid_template_is_422_with_the_template_error_and_its_line(api, own_campaign):
    organizer = api(ORGANIZER)
    broken = {**LETTER, "body": LETTER["body"].replace("Please.", "Please {{ target.nme }}.")}
    response = organizer.post(f"{API}/campaigns/{own_campaign}/templates", json=broken)
    assert response.status_code == 422
    body = response.get_json()
    assert body["problems"][0]["field"] == "body" and body["problems"][0]["line"] == 3
    assert body["problems"][0]["text"] == "Please {{ target.nme }}."
    assert "body, line 3:" in body["errors"]["body"][0] and "nme" in body["error"]
    syntax = organizer.post(
        f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "subject": "Hi {{ target.name"}
    )
    assert syntax.status_code == 422 and syntax.get_json()["problems"][0]["field"] == "subject"
    settings = organizer.post(f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "targets": ["ohchr"]})
    assert (
        settings.status_code == 422
        and "Not targets of this campaign: ohchr" in settings.get_json()["errors"]["target_ids"][0]
    )


def test_a_translation_is_held_to_the_letters_own_text_rules(api, own_campaign):
    """A translation's subject becomes a mail header and its name a line on the page, like the letter's own."""
    organizer = api(ORGANIZER)
    spanish = {"name": "Pídele a Dana", "subject": "Abra los archivos", "body": LETTER["body"]}
    for field, value, says in [
        ("subject", "Abra =?utf-8?q?los?= archivos", "contains '=?'"),
        ("name", "Pídele\u202e a Dana", "single line without control characters"),
        ("body", "Hola\x00 {{ supporter.note }}", "control character"),
    ]:
        refused = organizer.post(
            f"{API}/campaigns/{own_campaign}/templates",
            json={**LETTER, "translations": {"es": {**spanish, field: value}}},
        )
        assert refused.status_code == 422, (field, refused.get_json())
        assert any(says in m for m in refused.get_json()["errors"]["translations.es"]), refused.get_json()
    saved = organizer.post(
        f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "translations": {"es": spanish}}
    )
    assert saved.status_code == 201 and saved.get_json()["languages"] == ["en", "es"]


def test_templates_are_created_versioned_published_and_listed(api, own_campaign):
    organizer = api(ORGANIZER)
    created = organizer.post(f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "min_note_length": 30})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["slug"], body["version"], body["active"], body["min_note_length"]) == ("ask-dana", 1, False, 30)
    again = organizer.post(
        f"{API}/campaigns/{own_campaign}/templates",
        json={**LETTER, "slug": "ask-dana", "subject": "New", "active": True},
    )
    assert again.status_code == 200
    body = again.get_json()
    assert (body["version"], body["active"], body["changed"]) == (2, True, True)
    assert [v["version"] for v in body["versions"]] == [2, 1] and body["versions"][0]["author"] == f"api: {ORGANIZER}"
    stale = organizer.post(
        f"{API}/campaigns/{own_campaign}/templates", json={**LETTER, "slug": "ask-dana", "base_version": 1}
    )
    assert stale.status_code == 409
    listed = organizer.get(f"{API}/campaigns/{own_campaign}/templates").get_json()["templates"]
    assert [t["slug"] for t in listed] == ["ask-dana"] and listed[0]["subject"] == "New"


def test_targets_are_added_and_changed(app, api, own_campaign):
    organizer = api(ORGANIZER)
    added = organizer.post(
        f"{API}/campaigns/{own_campaign}/targets",
        json={"kind": "company", "name": "Acme Corp", "email": "press@acme.example"},
    )
    assert added.status_code == 201
    assert added.get_json()["id"] == "acme-corp" and added.get_json()["channels"] == ["smtp", "mailto"]
    changed = organizer.post(
        f"{API}/campaigns/{own_campaign}/targets",
        json={"id": "acme-corp", "kind": "company", "name": "Acme Corp", "phone": "555 0100"},
    )
    assert changed.status_code == 200 and changed.get_json()["phone"] == "555 0100"
    for bad, field in (
        ({"name": "X", "email": "nope"}, "email"),
        ({"name": "X", "kind": "senator"}, "kind"),
        ({"name": ""}, "name"),
    ):
        response = organizer.post(f"{API}/campaigns/{own_campaign}/targets", json=bad)
        assert response.status_code == 422 and field in response.get_json()["errors"], bad
    with app.app_context():
        assert [t.id for t in campaigns.find_campaign(own_campaign).targets] == ["dana-example", "acme-corp"]


def test_totals_csv(api, client, supporter):
    client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    )  # fmt: skip
    response = api(ADMIN).get(f"{API}/campaigns/{LAUNCH}/totals.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = {row["target_id"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert rows["ohchr"]["handed_off"] == "1" and rows["ohchr"]["shown_only"] == "1"
    assert rows["ohchr"]["went_out"] == "0"  # a hand-off only shown is not quoted as a letter that went out
    assert rows["general-dynamics-ceo"]["handed_off"] == "0"


def test_the_openapi_document_describes_the_organizer_api(client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    assert set(paths[f"{API}/campaigns"]) >= {"get", "post"}
    assert "put" in paths[f"{API}/campaigns/{{slug}}"]
    assert set(paths[f"{API}/campaigns/{{slug}}/templates"]) >= {"get", "post"}
    assert "post" in paths[f"{API}/campaigns/{{slug}}/targets"]
    assert "get" in paths[f"{API}/campaigns/{{slug}}/totals.csv"]
    assert document["components"]["securitySchemes"]["organizerToken"]["scheme"] == "bearer"
    for operation in paths[f"{API}/campaigns/{{slug}}/templates"].values():
        if isinstance(operation, dict) and "responses" in operation:
            assert {"401", "403"} <= set(operation["responses"])
    assert "TemplateProblems" in document["components"]["schemas"]
    # the public endpoints are still there, unchanged
    assert "/api/v1/submissions" in paths
