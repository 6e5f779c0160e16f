"""Campaigns in the workspace: create, edit, dated updates and resources, publish, unpublish, close and reopen —
and a closed campaign takes no letters, in the pages and in the API."""

from __future__ import annotations

import html

import pytest

from tests.conftest import csrf_token
from tests.organize.conftest import ORGANIZER, active_letter, form_token
from tests.support.letters import LAUNCH, un_letter
from webapp.extensions import db
from webapp.organize import campaigns
from webapp.organizers import accounts


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, action: str, page: str, /, **data):
    return client.post(action, data={"csrf_token": form_token(client, page), **data})


def test_create_a_campaign_as_a_draft_that_its_creator_runs(app, as_organizer):
    response = post(as_organizer, "/organize/campaigns", "/organize/", title="Stop the raids", slug="", congress="y")
    assert response.status_code == 302
    assert response.headers["Location"] == "/organize/c/stop-the-raids/"
    page = text(as_organizer.get("/organize/c/stop-the-raids/"))
    assert "Draft — not public" in page and "Add at least one letter first" in page
    with app.app_context():
        campaign = campaigns.find_campaign("stop-the-raids")
        assert campaign.congress is True and campaign.published is False
        assert accounts.members_of(campaign)[0].email == ORGANIZER
    assert as_organizer.get("/c/stop-the-raids").status_code == 404  # not public yet


def test_a_taken_or_malformed_address_is_refused_next_to_the_field(as_organizer):
    taken = post(as_organizer, "/organize/campaigns", "/organize/", title="Again", slug=LAUNCH)
    assert taken.status_code == 422 and f"There is already a campaign at /c/{LAUNCH}" in text(taken)
    bad = post(as_organizer, "/organize/campaigns", "/organize/", title="Bad", slug="Not A Slug!")
    assert "lower-case letters, digits and hyphens" in text(bad)


@pytest.mark.parametrize("position", ["-1", "100001", "99999999999999999999"])
def test_a_place_in_the_list_out_of_range_is_refused_next_to_the_field(app, as_admin, own_campaign, position):
    """A number past what the database holds was a 500 (OverflowError on SQLite, an error on PostgreSQL)."""
    base = f"/organize/c/{own_campaign}/"
    refused = post(as_admin, base, base, title="Free the test data", summary="Ask.", position=position)
    assert refused.status_code == 422
    assert "Choose a number from 0 to 100,000." in text(refused)


def test_edit_settings_updates_and_resources_show_on_the_public_page(as_admin, own_campaign):
    base = f"/organize/c/{own_campaign}/"
    saved = post(as_admin, base, base, title="Free the test data now", summary="Ask for the records.", position="3")
    assert saved.status_code == 302
    added = post(as_admin, base + "updates", base, date="2026-06-21", text="The company answered; keep writing.")
    assert added.status_code == 302
    bad_link = post(as_admin, base + "resources", base, kind="donate", name="Legal aid", url="javascript:alert(1)")
    assert bad_link.status_code == 422 and "Links must start with https://" in text(bad_link)
    post(as_admin, base + "resources", base, kind="donate", name="Legal aid fund", url="https://legal.example/give")
    with db_context(as_admin) as campaign:
        campaigns.add_resource(campaign, "read", "Background", "https://records.example/background")
    publish_with_a_letter(as_admin, own_campaign)
    page = text(as_admin.get(f"/c/{own_campaign}"))
    assert "Free the test data now" in page and "Ask for the records." in page
    assert "Update, June 21, 2026:" in page and "The company answered; keep writing." in page
    assert 'href="https://legal.example/give"' in page and "Background" in page


class db_context:
    """The test client's app, the campaign of the test, inside an app context; what the block wrote is committed."""

    def __init__(self, client, slug: str = "free-the-test-data"):
        self.app, self.slug = client.application, slug

    def __enter__(self):
        self.context = self.app.app_context()
        self.context.push()
        return campaigns.find_campaign(self.slug)

    def __exit__(self, *exc):
        if exc[0] is None:
            db.session.commit()  # the services flush; the caller commits (webapp/organize/__init__.py)
        db.session.remove()
        self.context.pop()


def publish_with_a_letter(client, slug: str) -> None:
    with db_context(client, slug) as campaign:
        active_letter(
            campaign,
            subject="Open the records",
            body="Dear {{ target.salutation }},\n\n{{ supporter.note }}\n\n{{ supporter.name }}\n",
            channels=["smtp", "mailto", "print"],
        )
    base = f"/organize/c/{slug}/"
    response = post(client, base + "state", base, action="publish")
    assert response.status_code == 302
    with db_context(client, slug) as campaign:
        assert campaign.published, campaigns.publish_problems(campaign)


def test_publishing_needs_a_letter_then_the_campaign_is_public_and_listed(as_organizer, own_campaign):
    base = f"/organize/c/{own_campaign}/"
    refused = post(as_organizer, base + "state", base, action="publish")
    assert "Add at least one letter first" in text(as_organizer.get(refused.headers["Location"]))
    assert as_organizer.get(f"/c/{own_campaign}").status_code == 404
    publish_with_a_letter(as_organizer, own_campaign)
    assert as_organizer.get(f"/c/{own_campaign}").status_code == 200
    assert "Free the test data" in text(as_organizer.get("/"))
    post(as_organizer, base + "state", base, action="unpublish")
    assert as_organizer.get(f"/c/{own_campaign}").status_code == 404


def test_a_closed_campaign_thanks_supporters_shows_totals_and_takes_no_letters(app, as_admin, client, supporter):
    base = f"/organize/c/{LAUNCH}/"
    handed = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    )  # fmt: skip
    assert handed.status_code == 202
    form = client.get(f"/c/{LAUNCH}/write?target=ohchr")  # a form opened before the campaign closed
    call = client.get(f"/c/{LAUNCH}/call?target=us-mission-un")
    assert post(as_admin, base + "state", base, action="close").status_code == 302

    page = text(client.get(f"/c/{LAUNCH}"))
    assert "This campaign has closed" in page and "Thank you to everyone who wrote" in page
    assert "<strong>0</strong> letters and calls went out through this page. 1 more was handed to a supporter" in page
    assert "Letters so far" in page and "Take action" not in page and "/write?" not in page

    api = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    )  # fmt: skip
    assert api.status_code == 422
    assert "has closed and takes no more letters" in api.get_json()["errors"]["campaign"][0]

    for path in (f"/c/{LAUNCH}/write?target=ohchr", f"/c/{LAUNCH}/call?target=us-mission-un"):
        assert client.get(path).status_code == 303  # new visitors go to the thank-you
    refused = client.post(
        f"/c/{LAUNCH}/write",
        data={"csrf_token": csrf_token(form.get_data(as_text=True)), "targets": ["ohchr"], "template": "un-human-rights-office", **supporter},
    )  # fmt: skip
    assert refused.status_code == 422 and "has closed and takes no more letters" in text(refused)
    refused_call = client.post(
        f"/c/{LAUNCH}/call",
        data={
            "csrf_token": csrf_token(call.get_data(as_text=True)),
            "targets": "us-mission-un",
            "name": "Maria",
            "zip": "94110",
        },
    )
    assert refused_call.status_code == 422 and "has closed" in text(refused_call)

    assert post(as_admin, base + "state", base, action="reopen").status_code == 302
    again = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    )  # fmt: skip
    assert again.status_code == 202


def test_team_members_are_added_and_removed_by_admins(app, as_admin, own_campaign, people):
    base = f"/organize/c/{own_campaign}/"
    page = text(as_admin.get(base))
    assert "organizer@example.org" in page
    assert post(as_admin, base + "members", base, email="stranger@example.org").status_code == 302
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        assert {o.email for o in accounts.members_of(campaign)} == {ORGANIZER, "stranger@example.org"}
        stranger_id = accounts.find_organizer("stranger@example.org").id
    post(as_admin, base + f"members/{stranger_id}/delete", base)
    with app.app_context():
        assert [o.email for o in accounts.members_of(campaigns.find_campaign(own_campaign))] == [ORGANIZER]
