"""The publish check: no target without a way to reach them, a summary, a link for every resource — refused with
the reason in the workspace, the organizer API and `flask letters check`, and every shipped campaign passes it."""

from __future__ import annotations

import html
import shutil

import pytest

from tests.conftest import PROJECT
from tests.organize.conftest import ORGANIZER, active_letter, form_token, token_for
from webapp.campaigns.checks import spec_problems
from webapp.campaigns.files import read_all, read_campaign
from webapp.extensions import db
from webapp.organize import campaigns, invalid
from webapp.organize import targets as organize_targets
from webapp.organizers import accounts

SHIPPED = PROJECT / "letter_templates"
BODY = "Dear {{ target.salutation }},\n\nOpen the records.\n\n{{ supporter.note }}\n\n{{ supporter.name }}\n"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def letter(campaign, name: str, channels: list[str], *, targets=(), kinds=()) -> None:
    active_letter(
        campaign, name, subject="Open the records", body=BODY, target_ids=list(targets), target_kinds=list(kinds),
        channels=channels,
    )  # fmt: skip


@pytest.mark.parametrize("folder", sorted(p.name for p in SHIPPED.iterdir() if (p / "campaign.yaml").is_file()))
def test_every_shipped_campaign_passes_the_publish_check(folder):
    spec = read_campaign(SHIPPED / folder)
    assert spec_problems(spec) == [] or not spec.published, spec_problems(spec)


def test_a_target_with_no_way_to_reach_them_is_named_with_the_reason(app, own_campaign):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        organizer = accounts.find_organizer(ORGANIZER)
        letter(campaign, "Ask Dana", ["smtp", "mailto"], targets=["dana-example"])
        assert campaigns.publish_problems(campaign) == []

        organize_targets.add_target(campaign, organizer, {"kind": "ceo", "name": "Robin Nowhere"}, "robin")
        organize_targets.add_target(
            campaign, organizer, {"kind": "ceo", "name": "Pat Paper", "postal_address": "1 Main St\nTown, ST 00001"}
        )
        organize_targets.add_target(
            campaign, organizer, {"kind": "company", "name": "Phone Corp", "phone": "(555) 010-0000"}
        )
        letter(campaign, "Ask Pat", ["smtp", "mailto"], targets=["pat-paper"])
        problems = campaigns.publish_problems(campaign)
        assert problems == [
            "Robin Nowhere can't be reached: there is no email address, contact form, phone number or postal "
            "address for them. Add one, or remove them from the campaign.",
            "Pat Paper can't be reached: the letters for them go by email or the mail app, and they take only a "
            "printed letter. Add their details, or let a letter go another way.",
        ]  # Phone Corp has no letter, but a phone number: supporters can call
        with pytest.raises(invalid.Invalid) as refused:
            campaigns.set_published(campaign, True)
        assert refused.value.errors["published"] == problems
        assert not campaign.published

        organize_targets.remove_target(campaign, organizer, "robin")
        letter(campaign, "Write to Pat", ["print"], targets=["pat-paper"])
        campaigns.set_published(campaign, True)
        assert campaign.published


def test_an_empty_summary_and_resources_without_links_are_refused(app, own_campaign):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        letter(campaign, "Ask Dana", ["smtp"], targets=["dana-example"])
        campaigns.update_campaign(campaign, summary="")
        campaigns.add_resource(campaign, "donate", "Legal aid fund", None)
        campaigns.add_resource(campaign, "read", "The report", "https://records.example/report")
        campaigns.add_resource(campaign, "petition", "Sign here", "")
        assert campaigns.publish_problems(campaign) == [
            "Write a summary: it is the first thing supporters read, on the campaign page and in the list.",
            "“Legal aid fund” and “Sign here” have no link: add each one's own website (check the address), or "
            "remove it from “More you can do”.",
        ]


def test_writing_to_congress_needs_a_letter_members_can_take(app, own_campaign):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        campaigns.update_campaign(campaign, congress=True)
        letter(campaign, "Ask Dana", ["smtp"], targets=["dana-example"])
        assert campaigns.publish_problems(campaign) == [
            "Writing to members of Congress is on, but no published letter or call script is for them (by contact "
            "form, printed letter or phone). Add one, or turn writing to Congress off."
        ]
        letter(campaign, "Ask your members", ["contact_form", "print"], kinds=["senator", "representative"])
        assert campaigns.publish_problems(campaign) == []


def test_the_workspace_and_the_api_refuse_to_publish_with_the_reason(app, as_organizer, own_campaign):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        letter(campaign, "Ask Dana", ["print"], targets=["dana-example"])  # Dana has only an email address
        db.session.commit()
    base = f"/organize/c/{own_campaign}/"
    page = text(as_organizer.get(base))
    reason = "Dana Example can't be reached: the letters for them go by a printed letter, and they take only email"
    assert reason in page  # listed before anyone presses Publish
    refused = as_organizer.post(
        base + "state", data={"csrf_token": form_token(as_organizer, base), "action": "publish"}
    )
    assert refused.status_code == 302
    assert reason in text(as_organizer.get(refused.headers["Location"]))
    assert as_organizer.get(f"/c/{own_campaign}").status_code == 404

    api = app.test_client()
    answer = api.put(
        f"/api/v1/organize/campaigns/{own_campaign}",
        json={"published": True},
        headers={"Authorization": f"Bearer {token_for(app, ORGANIZER)}"},
    )
    assert answer.status_code == 422 and reason in answer.get_json()["errors"]["published"][0]
    with app.app_context():
        assert not campaigns.find_campaign(own_campaign).published
        db.session.remove()


def test_letters_check_refuses_a_published_campaign_with_a_dead_end(tmp_path, runner):
    root = tmp_path / "letter_templates"
    shutil.copytree(SHIPPED, root)
    config = next(root.glob("*/campaign.yaml"))
    config.write_text(
        config.read_text().replace(
            "targets:\n", "targets:\n  - id: nobody-home\n    kind: ceo\n    name: Nobody Home\n", 1
        )
    )
    result = runner.invoke(args=["letters", "check", str(root)])
    assert result.exit_code == 1
    assert "Nobody Home can't be reached: there is no email address, contact form, phone number" in result.output
    assert "published in the files, but fix the problems above first" in result.output

    config.write_text(config.read_text().replace("published: true", "published: false"))
    draft = runner.invoke(args=["letters", "check", str(root)])
    assert draft.exit_code == 0, draft.output
    assert "a draft that can't be published yet" in draft.output and "Nobody Home can't be reached" in draft.output


def test_letters_check_passes_the_shipped_campaigns(runner):
    result = runner.invoke(args=["letters", "check"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.endswith("letters OK")] == [
        f"{spec.slug}: {len(spec.templates)} letters OK" for spec in read_all(SHIPPED)
    ]
