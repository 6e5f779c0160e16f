"""Organizers write letters, not code: with `salutation_and_signoff` Outcry adds "Dear …," and the sign-off (and the
supporter's own words when the letter doesn't place them), in the editor, the files, the API and every letter sent;
mistakes are still named at their line in the organizer's own text."""

from __future__ import annotations

import html
import re
import shutil

import pytest

from tests.conftest import PROJECT
from tests.organize.conftest import ORGANIZER, form_token, token_for
from tests.support.letters import LAUNCH
from webapp.campaigns.files import read_campaign, template_text
from webapp.core import framing
from webapp.extensions import db
from webapp.organize import campaigns, letter_templates

MIDDLE = "Please open the records you keep about us.\n\nEvery family deserves to know."
SHIPPED = PROJECT / "letter_templates"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_frame_adds_the_salutation_the_supporters_words_and_the_sign_off():
    full = framing.full_body(MIDDLE, True)
    assert full.startswith("Dear {{ target.salutation }},\n\nPlease open the records")
    assert full.endswith(
        "{% if supporter.note %}\n{{ supporter.note }}\n\n{% endif %}\nSincerely,\n{{ supporter.name }}\n"
    )
    placed = "Please open them.\n\nIn my own words: {{ supporter.note }}"
    assert framing.full_body(placed, True).count("supporter.note") == 1  # placed by the organizer: not added again
    assert framing.full_body(MIDDLE, False) == MIDDLE


def test_a_mistake_is_named_at_its_line_in_the_organizers_text():
    body = "First line.\n\nThird line names {{ target.nme }}.\n"
    problems = framing.problems("Subject", body, salutation_and_signoff=True, target_kinds=["ceo"])
    assert [(p.field, p.line) for p in problems] == [("body", 3)] and "nme" in problems[0].message
    # A block left open is found only in the whole letter: still a line of the organizer's text.
    unclosed = framing.problems("Subject", "One.\n{% if supporter.zip %}\nTwo.\n", salutation_and_signoff=True)
    assert unclosed and all(1 <= p.line <= 3 for p in unclosed if p.line)
    # Without the frame the note must be placed by hand, as before.
    bare = framing.problems("Subject", MIDDLE, salutation_and_signoff=False, target_kinds=["ceo"])
    assert any("personal note has no place" in p.message for p in bare)


def test_a_new_letter_starts_framed_and_supporters_get_the_whole_letter(app, as_organizer, own_campaign, client):
    url = f"/organize/c/{own_campaign}/letters/new"
    page = text(as_organizer.get(url))
    box = re.search(r'<input[^>]*name="salutation_and_signoff"[^>]*>', page).group(0)
    assert 'type="checkbox"' in box and "checked" in box
    assert "Dear {{" not in page.split('name="body"')[1].split("</textarea>")[0]  # the starter is only the middle
    saved = as_organizer.post(
        url,
        data={
            "csrf_token": form_token(as_organizer, url), "name": "Ask Dana", "target_ids": ["dana-example"],
            "channels": ["mailto"], "min_note_length": "0", "subject": "Open the records",
            "salutation_and_signoff": "y", "body": MIDDLE,
        },
    )  # fmt: skip
    assert saved.status_code == 302, text(saved)
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        template = letter_templates.find_template(campaign, "ask-dana")
        assert template.salutation_and_signoff and template.body == MIDDLE + "\n"
        letter_templates.set_template_active(template, True)
        campaigns.set_published(campaign, True)
        db.session.commit()
    sent = client.post(
        "/api/v1/submissions",
        json={
            "campaign": own_campaign, "template": "ask-dana", "targets": ["dana-example"], "channel": "mailto",
            "supporter": {"name": "Maria Lopez", "email": "maria@example.org", "zip": "94110",
                          "note": "My cousin waited two years for an answer."},
        },
    )  # fmt: skip
    assert sent.status_code == 202, sent.get_json()
    body = sent.get_json()["letters"][0]["body"]
    assert body == (
        "Dear Ms. Example,\n\nPlease open the records you keep about us.\n\nEvery family deserves to know.\n\n"
        "My cousin waited two years for an answer.\n\nSincerely,\nMaria Lopez"
    )


def test_the_preview_shows_the_frame_and_a_call_script_cannot_have_one(app, as_organizer, own_campaign):
    token = form_token(as_organizer, f"/organize/c/{own_campaign}/letters/new")
    payload = {"subject": "S", "body": MIDDLE, "target": "dana-example", "with_note": False, "channels": ["mailto"],
               "target_ids": ["dana-example"], "salutation_and_signoff": True}  # fmt: skip
    result = as_organizer.post(
        f"/organize/c/{own_campaign}/letters/preview", json=payload, headers={"X-CSRFToken": token}
    ).get_json()
    assert result["problems"] == []
    assert result["body"].startswith("Dear Ms. Example,\n\nPlease open") and result["body"].endswith(
        "Sincerely,\nAlex Rivera"
    )
    with app.app_context():
        data = letter_templates.TemplateInput(
            name="Call", subject="Call", body="Hello, I am {{ supporter.name }}.", target_ids=["dana-example"],
            channels=["call"], salutation_and_signoff=True,
        )  # fmt: skip
        errors, _problems = letter_templates.check_template_input(campaigns.find_campaign(own_campaign), data)
        assert errors["salutation_and_signoff"] == [
            "A call script is spoken, so there is no salutation or sign-off to add: turn this off for calls."
        ]


def test_the_option_round_trips_through_the_files_the_api_and_the_versions(app, tmp_path, own_campaign, runner):
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, ORGANIZER)}"}
    created = api.post(
        f"/api/v1/organize/campaigns/{own_campaign}/templates",
        json={"name": "Ask Dana", "subject": "S", "body": MIDDLE, "targets": ["dana-example"], "channels": ["print"],
              "salutation_and_signoff": True, "active": True},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["salutation_and_signoff"] is True
    changed = api.post(
        f"/api/v1/organize/campaigns/{own_campaign}/templates",
        json={"slug": "ask-dana", "name": "Ask Dana", "subject": "S", "body": MIDDLE + "\n\n{{ supporter.note }}",
              "targets": ["dana-example"], "channels": ["print"]},
        headers=headers,
    )  # fmt: skip
    assert changed.status_code == 200 and changed.get_json()["salutation_and_signoff"] is False
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        template = letter_templates.restore_version(
            campaign, letter_templates.find_template(campaign, "ask-dana"), 1, "test"
        )
        assert template.salutation_and_signoff is True and template.version == 3
        db.session.commit()

    result = runner.invoke(args=["campaigns", "export", own_campaign, str(tmp_path)])
    assert result.exit_code == 0, result.output
    letter = (tmp_path / own_campaign / "letters" / "ask-dana.txt").read_text()
    assert "salutation_and_signoff: true" in letter and "Dear" not in letter
    spec = read_campaign(tmp_path / own_campaign)
    assert spec.templates[0].salutation_and_signoff is True
    assert template_text(spec.templates[0]) == letter


def test_a_letter_file_may_ask_for_the_frame_and_old_files_read_as_before(tmp_path, runner):
    root = tmp_path / "letter_templates"
    shutil.copytree(SHIPPED, root)
    letter = root / LAUNCH / "letters" / "framed.txt"
    letter.write_text(
        "---\nname: Framed\ntargets: [ohchr]\nchannels: [smtp, mailto, print]\nsalutation_and_signoff: true\n"
        "subject: Reunite the families\n---\n" + MIDDLE + "\n"
    )
    result = runner.invoke(args=["letters", "check", str(root)])
    assert "letters OK" in result.output or "can't be published" in result.output, result.output
    spec = read_campaign(root / LAUNCH)
    framed = next(t for t in spec.templates if t.slug == "framed")
    assert framed.salutation_and_signoff is True
    assert not any(t.salutation_and_signoff for t in spec.templates if t.slug != "framed")
    letter.write_text(letter.read_text().replace("salutation_and_signoff: true", "salutation_and_signoff: maybe"))
    refused = runner.invoke(args=["letters", "check", str(root)])
    assert refused.exit_code == 1 and "salutation_and_signoff must be true or false" in refused.output


@pytest.mark.parametrize("body", ["Dear {{ target.salutation }},\n\n{{ supporter.note }}\n"])
def test_existing_letters_are_untouched(app, body):
    with app.app_context():
        campaign = campaigns.find_campaign(LAUNCH)
        assert not any(t.salutation_and_signoff for t in campaign.templates)
        assert all(t.full_body == t.body for t in campaign.templates)
        db.session.remove()
    assert framing.full_body(body, False) == body


def test_a_letter_that_already_greets_and_signs_off_is_refused_when_framed():
    body = "Dear {{ target.salutation }},\n\nPlease open the records.\n\nSincerely,\n{{ supporter.name }}\n"
    problems = framing.problems("S", body, salutation_and_signoff=True, target_kinds=["ceo"])
    assert [(p.line, p.message.split(",")[0]) for p in problems] == [
        (1, "the letter already starts with “Dear …”"),
        (5, "the letter already signs off"),
    ]
    assert framing.problems("S", body + "{{ supporter.note }}\n", salutation_and_signoff=False) == []
