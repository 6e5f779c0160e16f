"""Organizers choose the Library of Congress topics of a letter delivered through CWC: in the letter editor, the API
and the campaign files; a CWC letter without a topic, with an unknown one, or for no member of Congress is refused."""

from __future__ import annotations

import html
import re
import shutil

import pytest

from tests.conftest import PROJECT
from tests.organize.conftest import ORGANIZER, form_token, token_for
from webapp.campaigns.files import CampaignFileError, read_campaign, template_text
from webapp.organize import campaigns, letter_templates

BODY = "Please hold hearings on the families still apart."
SHIPPED = PROJECT / "letter_templates"


def _form(token: str, **changes) -> dict:
    data = {
        "csrf_token": token, "name": "Ask Congress", "target_kinds": ["senator", "representative"],
        "channels": ["cwc", "contact_form"], "min_note_length": "0", "subject": "Hold hearings",
        "salutation_and_signoff": "y", "body": BODY,
    }  # fmt: skip
    data.update(changes)
    return data


def test_a_cwc_letter_needs_a_topic_and_keeps_the_ones_chosen(app, as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/letters/new"
    page = html.unescape(as_organizer.get(url).get_data(as_text=True))
    assert "Library of Congress topics, for letters delivered through Congress's own system (CWC)" in page
    assert "This site does not deliver through CWC" in page  # the suite's app has no CWC settings
    refused = as_organizer.post(url, data=_form(form_token(as_organizer, url)))
    assert refused.status_code == 422
    assert "Choose at least one Library of Congress topic" in html.unescape(refused.get_data(as_text=True))
    unknown = as_organizer.post(url, data=_form(form_token(as_organizer, url), cwc_topics=["Kittens"]))
    assert unknown.status_code == 422  # not a choice the form offers
    saved = as_organizer.post(url, data=_form(form_token(as_organizer, url), cwc_topics=["Immigration", "Families"]))
    assert saved.status_code == 302, html.unescape(saved.get_data(as_text=True))
    with app.app_context():
        template = letter_templates.find_template(campaigns.find_campaign(own_campaign), "ask-congress")
        assert template.cwc_topics == ["Immigration", "Families"] and template.channels == ["cwc", "contact_form"]
        version = template.version
    edit = f"/organize/c/{own_campaign}/letters/ask-congress"
    page = html.unescape(as_organizer.get(edit).get_data(as_text=True))
    boxes = {
        m.group(2): "checked" in m.group(0)
        for m in re.finditer(r'<input[^>]*name="(cwc_topics)"[^>]*value="([^"]*)"[^>]*>', page)
    }
    assert boxes["Immigration"] and boxes["Families"] and not boxes["Energy"] and len(boxes) == 33
    changed = as_organizer.post(
        edit, data=_form(form_token(as_organizer, edit), cwc_topics=["Immigration"], base_version=str(version))
    )
    assert changed.status_code == 302
    with app.app_context():
        template = letter_templates.find_template(campaigns.find_campaign(own_campaign), "ask-congress")
        assert template.cwc_topics == ["Immigration"] and template.version == version  # a setting, not a new text


def test_cwc_is_only_for_members_of_congress_and_at_most_three_topics(app, own_campaign):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        data = letter_templates.TemplateInput(
            name="CEO", subject="S", body=BODY, target_ids=["dana-example"], channels=["cwc"],
            salutation_and_signoff=True, cwc_topics=["Commerce"],
        )  # fmt: skip
        errors, _ = letter_templates.check_template_input(campaign, data)
        assert "delivers only to members of Congress" in errors["channels"][0]
        data = letter_templates.TemplateInput(
            name="Congress", subject="S", body=BODY, target_kinds=["senator"], channels=["cwc"],
            salutation_and_signoff=True, cwc_topics=["Commerce", "Energy", "Health", "Law"],
        )  # fmt: skip
        errors, _ = letter_templates.check_template_input(campaign, data)
        assert errors["cwc_topics"] == ["Choose at most 3 topics: offices sort letters by them."]


def test_topics_round_trip_through_the_api_and_the_files(app, tmp_path, own_campaign, runner):
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, ORGANIZER)}"}
    created = api.post(
        f"/api/v1/organize/campaigns/{own_campaign}/templates",
        json={"name": "Ask Congress", "subject": "S", "body": BODY, "kinds": ["senator", "representative"],
              "channels": ["cwc", "print"], "salutation_and_signoff": True,
              "topics": ["Civil Rights and Liberties, Minority Issues", "Families"], "active": True},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["topics"] == ["Civil Rights and Liberties, Minority Issues", "Families"]
    missing = api.post(
        f"/api/v1/organize/campaigns/{own_campaign}/templates",
        json={"name": "Ask again", "subject": "S", "body": BODY, "kinds": ["senator"], "channels": ["cwc"],
              "salutation_and_signoff": True},
        headers=headers,
    )  # fmt: skip
    assert missing.status_code == 422 and "cwc_topics" in str(missing.get_json())
    result = runner.invoke(args=["campaigns", "export", own_campaign, str(tmp_path)])
    assert result.exit_code == 0, result.output
    letter = (tmp_path / own_campaign / "letters" / "ask-congress.txt").read_text()
    spec = read_campaign(tmp_path / own_campaign)
    assert spec.templates[0].topics == ["Civil Rights and Liberties, Minority Issues", "Families"]
    assert template_text(spec.templates[0]) == letter


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("topics: [Immigration]\nchannels: [cwc]", None),
        ("channels: [cwc, print]", "topics: Choose at least one Library of Congress topic"),
        ("channels: [cwc]\ntopics: [Immigration, Kittens]", "Not a Library of Congress topic: Kittens"),
        ("channels: [cwc]\ntopics: [Civil Rights and Liberties, Minority Issues]", "Not a Library of Congress topic"),
    ],
)
def test_campaign_files_check_the_topics(tmp_path, line, says):
    folder = tmp_path / "reunite-families"
    shutil.copytree(SHIPPED / "reunite-families", folder)
    letter = folder / "letters" / "congress-reunite-and-investigate.txt"
    text = letter.read_text()
    header, rest = text.split("subject:", 1)
    header = "\n".join(x for x in header.splitlines() if not x.startswith(("channels:", "topics:")))
    letter.write_text(f"{header}\n{line}\nsubject:{rest}")
    if says is None:
        spec = read_campaign(folder)
        assert next(t for t in spec.templates if t.slug == letter.stem).topics == ["Immigration"]
    else:
        with pytest.raises(CampaignFileError, match=says):
            read_campaign(folder)


def test_the_launch_campaigns_congress_letter_offers_cwc_with_its_topics():
    spec = read_campaign(SHIPPED / "reunite-families")
    letter = next(t for t in spec.templates if t.slug == "congress-reunite-and-investigate")
    assert letter.channels == ["cwc", "contact_form", "print"]
    assert letter.topics == ["Immigration", "Families", "Civil Rights and Liberties, Minority Issues"]


SPANISH = "Por favor, celebren audiencias sobre las familias que siguen separadas."


def test_a_cwc_letter_gets_its_spanish_version_and_its_versions_back(app, as_organizer, own_campaign):
    """Writing a CWC letter's Spanish version, or restoring an older version, is checked with the letter's topics
    (kept beside the versions), not refused for want of one."""
    url = f"/organize/c/{own_campaign}/letters/new"
    saved = as_organizer.post(url, data=_form(form_token(as_organizer, url), cwc_topics=["Families"]))
    assert saved.status_code == 302, html.unescape(saved.get_data(as_text=True))
    spanish_url = f"/organize/c/{own_campaign}/letters/ask-congress/languages/es"
    spanish = as_organizer.post(
        spanish_url,
        data={"csrf_token": form_token(as_organizer, spanish_url), "name": "Pide al Congreso",
              "subject": "Celebren audiencias", "body": SPANISH},
    )  # fmt: skip
    assert spanish.status_code == 302, html.unescape(spanish.get_data(as_text=True))
    letter = f"/organize/c/{own_campaign}/letters/ask-congress"
    restored = as_organizer.post(
        f"{letter}/versions/1/restore", data={"csrf_token": form_token(as_organizer, letter)}, follow_redirects=True
    )
    page = html.unescape(restored.get_data(as_text=True))
    assert "Version 1 is back, saved as version 3." in page and "can't be restored" not in page
    with app.app_context():
        template = letter_templates.find_template(campaigns.find_campaign(own_campaign), "ask-congress")
        assert template.version == 3 and template.languages == ["en"] and template.cwc_topics == ["Families"]
