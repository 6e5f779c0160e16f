"""Campaign files: the launch campaign loads, a second load changes nothing, edits are picked up, bad files are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import PROJECT
from tests.support.letters import LAUNCH
from webapp.campaigns.content import clean_target
from webapp.campaigns.files import CampaignFileError, read_campaign
from webapp.campaigns.service import find_campaign, load_campaigns
from webapp.extensions import db
from webapp.models import Campaign, LetterTemplate, Target
from webapp.organize.invalid import Invalid
from webapp.organize.letter_templates import TemplateInput, check_template_input

SOURCE = PROJECT / "letter_templates"


def test_launch_campaign_content():
    spec = read_campaign(SOURCE / LAUNCH)
    targets = {t["id"]: t for t in spec.targets}
    assert targets["general-dynamics-ceo"]["name"] == "Phebe Novakovic"
    assert not targets["general-dynamics-ceo"].get("email"), "never invent an address"
    assert targets["ohchr"]["email"] == "petitions@ohchr.org"
    assert targets["us-mission-un"]["phone"] == "(212) 415-4000"
    assert "799 United Nations Plaza" in targets["us-mission-un"]["postal_address"]
    slugs = {t.slug for t in spec.templates}
    assert {"general-dynamics-open-the-doors", "un-human-rights-office"} <= slugs
    assert spec.congress is True
    assert spec.updates and spec.resources
    names = {r["name"] for r in spec.resources}
    for group in ("Kids in Need of Defense", "United We Dream", "Human Rights First", "Women's Refugee Commission"):
        assert any(group in name for name in names)


def test_second_load_changes_nothing(app, runner):
    result = runner.invoke(args=["campaigns", "load"])
    assert result.exit_code == 0, result.output
    assert f"{LAUNCH}: unchanged" in result.output


def test_letters_check_command(runner):
    result = runner.invoke(args=["letters", "check"])
    assert result.exit_code == 0, result.output
    assert "letters OK" in result.output


@pytest.fixture
def campaign_copy(tmp_path, app):
    root = tmp_path / "letter_templates"
    shutil.copytree(SOURCE, root)
    yield root / LAUNCH
    with app.app_context():
        load_campaigns(SOURCE)  # put the shipped content back for the other tests
        db.session.commit()


def test_edited_template_gets_a_new_version(app, campaign_copy, runner):
    letter = campaign_copy / "letters" / "un-human-rights-office.txt"
    letter.write_text(letter.read_text().replace("Thank you for standing up", "Thank you, truly, for standing up"))
    with app.app_context():
        before = db.session.scalar(
            select(LetterTemplate.version).where(LetterTemplate.slug == "un-human-rights-office")
        )
    result = runner.invoke(args=["campaigns", "load", str(campaign_copy.parent)])
    assert result.exit_code == 0, result.output
    assert "letter un-human-rights-office (body; now v" in result.output
    with app.app_context():
        after = db.session.scalar(select(LetterTemplate.version).where(LetterTemplate.slug == "un-human-rights-office"))
    assert after == before + 1


def test_filled_in_email_enables_email_channels(app, campaign_copy, runner, client):
    config = campaign_copy / "campaign.yaml"
    config.write_text(
        config.read_text().replace(
            "    salutation: Ms. Novakovic\n", "    salutation: Ms. Novakovic\n    email: ceo-office@example.com\n"
        )
    )
    result = runner.invoke(args=["campaigns", "load", str(campaign_copy.parent)])
    assert "target general-dynamics-ceo (email)" in result.output
    detail = client.get(f"/api/v1/campaigns/{LAUNCH}").get_json()
    ceo = next(t for t in detail["targets"] if t["id"] == "general-dynamics-ceo")
    assert ceo["channels"][:2] == ["smtp", "mailto"]


def test_broken_template_is_refused_with_its_file_and_line(app, campaign_copy, runner):
    letter = campaign_copy / "letters" / "un-human-rights-office.txt"
    letter.write_text(letter.read_text().replace("{{ supporter.name }}", "{{ supporter.name }", 1))
    result = runner.invoke(args=["campaigns", "load", str(campaign_copy.parent)])
    assert result.exit_code != 0
    assert "un-human-rights-office.txt" in result.output
    assert "line" in result.output
    with app.app_context():  # nothing half-loaded
        assert db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH)) is not None


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("kind: ceo", "kind: dictator", "kind"),
        ("targets: [ohchr]", "targets: [nobody]", "targets: Not targets of this campaign: nobody"),
        ("channels: [smtp, mailto, print]\nposition: 2", "channels: [fax]\nposition: 2", "channels"),
    ],
)
def test_invalid_files_are_named(campaign_copy, old, new, message):
    for path in [campaign_copy / "campaign.yaml", *(campaign_copy / "letters").glob("*.txt")]:
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))
            break
    with pytest.raises(CampaignFileError, match=message):
        read_campaign(campaign_copy)


BAD_TARGET_FIELDS = [
    ("email", "petitions at ohchr.org"),
    ("phone", "call the front desk"),
    ("website", "javascript:alert(1)"),
    ("salutation", "Dear =?utf-8?q?x?="),
    ("kind", "senator"),
]


@pytest.mark.parametrize("key,value", BAD_TARGET_FIELDS)
def test_a_target_in_the_files_meets_the_workspaces_rules_in_its_words(campaign_copy, key, value):
    """One schema for a target (webapp/campaigns/content.py): what the workspace refuses, campaign.yaml cannot
    hold, and the file's error says what the workspace would say, naming the file and the target."""
    config = campaign_copy / "campaign.yaml"
    text = config.read_text()
    before = "    email: petitions@ohchr.org\n"
    assert before in text
    line = f"    {key}: {value!r}\n" if key != "email" else f"    email: {value}\n"
    config.write_text(
        text.replace(before, line if key == "email" else before + line, 1).replace(
            "    kind: un_office\n", "", 1 if key == "kind" else 0
        )
    )
    with pytest.raises(Invalid) as refused:
        clean_target({"name": "UN Human Rights Office", key: value})
    (message,) = refused.value.errors[key]
    with pytest.raises(CampaignFileError) as exc:
        read_campaign(campaign_copy)
    assert "campaign.yaml" in str(exc.value) and "'ohchr'" in str(exc.value) and message in str(exc.value)


def _title(data, value):
    data["title"] = value


def _summary(data, value):
    data["summary"] = value


def _resource_kind(data, value):
    data["resources"][0]["kind"] = value


def _update_text(data, value):
    data["updates"][0]["text"] = value


BAD_CAMPAIGN_WORDS = [
    (_title, "Reunite \a families", "The title must be a single line"),
    (_summary, "Children\0", "The summary contains a control character"),
    (_resource_kind, "bribe", "Choose one of: donate, petition, read."),
    (_update_text, "x" * 2001, "The update must be at most 2,000 characters"),
]


@pytest.mark.parametrize("change,value,message", BAD_CAMPAIGN_WORDS)
def test_a_campaigns_own_words_in_the_files_meet_the_workspaces_rules(campaign_copy, change, value, message):
    """campaign.yaml's title, summary, updates and resources are held to the rules the workspace form and the
    organizer API hold them to (webapp/campaigns/content.py), and refused in the same words, naming the file."""
    config = campaign_copy / "campaign.yaml"
    data = yaml.safe_load(config.read_text())
    change(data, value)
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(CampaignFileError) as refused:
        read_campaign(campaign_copy)
    assert "campaign.yaml" in str(refused.value) and message in str(refused.value)


def test_a_campaign_folder_is_named_as_its_address(campaign_copy):
    renamed = campaign_copy.rename(campaign_copy.parent / "Reunite Families")
    with pytest.raises(CampaignFileError, match="lower-case letters, digits and hyphens"):
        read_campaign(renamed)
    renamed.rename(campaign_copy)


def test_an_email_in_the_files_is_stored_as_email_validator_normalizes_it(campaign_copy):
    config = campaign_copy / "campaign.yaml"
    config.write_text(config.read_text().replace("email: petitions@ohchr.org", "email: petitions@OHCHR.org"))
    targets = {t["id"]: t for t in read_campaign(campaign_copy).targets}
    assert targets["ohchr"]["email"] == "petitions@ohchr.org"


BAD_LETTER_SETTINGS = [
    ({"channels": "[call, smtp]"}, "channels"),
    ({"channels": "[call]", "min_note_length": "40"}, "min_note_length"),
    ({"channels": "[call]", "salutation_and_signoff": "true"}, "salutation_and_signoff"),
    ({"min_note_length": "999999"}, "min_note_length"),
    ({"name": '"Ring \\a the bell"'}, "name"),
    ({"subject": "'Read =?utf-8?q?this?='"}, "subject"),
]


@pytest.mark.parametrize("settings,key", BAD_LETTER_SETTINGS)
def test_a_letter_file_meets_the_workspaces_rules_in_its_words(app, campaign_copy, settings, key):
    """One schema for a letter template: a letter file is refused for what the workspace refuses, in its words."""
    letter = campaign_copy / "letters" / "un-human-rights-office.txt"
    head, body = letter.read_text().split("\n---\n", 1)
    meta = dict(line.split(": ", 1) for line in head.removeprefix("---\n").splitlines())
    meta.update(settings)
    letter.write_text("---\n" + "".join(f"{k}: {v}\n" for k, v in meta.items()) + "---\n" + body)
    spec = {k: yaml.safe_load(v) for k, v in meta.items() if k != "position"}
    data = TemplateInput(
        name=spec["name"],
        subject=spec["subject"],
        body=body,
        target_ids=spec["targets"],
        channels=spec["channels"],
        min_note_length=spec.get("min_note_length", 0),
        salutation_and_signoff=spec.get("salutation_and_signoff", False),
    )
    with app.app_context():
        errors, _problems = check_template_input(find_campaign(LAUNCH), data)
    (message,) = errors[key]
    with pytest.raises(CampaignFileError) as refused:
        read_campaign(campaign_copy)
    assert "un-human-rights-office.txt" in str(refused.value) and message in str(refused.value)


def test_targets_are_loaded_from_the_files(app):
    with app.app_context():
        mission = db.session.get(Target, "us-mission-un")
        assert mission.phone == "(212) 415-4000"
        assert mission.channels == ["call", "print"]
        assert mission.no_email_reason


def test_resource_links_must_be_web_links(campaign_copy):
    config = campaign_copy / "campaign.yaml"
    config.write_text(
        config.read_text().replace("    url: https://unitedwedream.org\n", "    url: javascript:alert(1)\n")
    )
    with pytest.raises(CampaignFileError, match="http"):
        read_campaign(campaign_copy)


def test_files_are_plain_text_an_organizer_can_edit():
    for path in Path(SOURCE).rglob("*"):
        if path.is_file():
            path.read_text(encoding="utf-8")
