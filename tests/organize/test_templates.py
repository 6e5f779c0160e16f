"""Letter templates in the workspace: every save checked with `check_template` (refused with the field and line),
live preview, the variables list, versions kept and restorable, letters recording their version, drafts that
reach supporters only once published, and a minimum length for the supporter's own words."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PROJECT, csrf_token
from tests.organize.conftest import active_letter, form_token
from tests.support.letters import LAUNCH, un_letter
from webapp.core.rendering import check_template
from webapp.extensions import db
from webapp.letters import drafting
from webapp.models import Letter, LetterTemplate, TemplateVersion
from webapp.organize import campaigns, editor, letter_templates
from webapp.organize.invalid import Conflict

GOOD = "Dear {{ target.salutation }},\n\nPlease open the records.\n\n{% if supporter.note %}\n{{ supporter.note }}\n\n{% endif %}\nSincerely,\n{{ supporter.name }}\n"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def plain(response) -> str:
    """The page's words without tags, as a reader sees them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split()).replace(" :", ":")


def letter_form(**overrides) -> dict:
    return {
        "name": "Ask Dana to open the records",
        "target_ids": ["dana-example"],
        "channels": ["smtp", "mailto", "print"],
        "min_note_length": "0",
        "subject": "Open the records, {{ target.name }}",
        "body": GOOD,
        **overrides,
    }


def create(client, campaign_slug: str, /, **overrides):
    url = f"/organize/c/{campaign_slug}/letters/new"
    return client.post(url, data={"csrf_token": form_token(client, url), **letter_form(**overrides)})


def template_of(app, slug: str, template_slug: str = "ask-dana-to-open-the-records") -> LetterTemplate:
    with app.app_context():
        found = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == template_slug))
        db.session.expunge(found)
        return found


@pytest.mark.parametrize(
    "field,source,expected",
    [
        (
            "body",
            GOOD.replace("Please open the records.", "Please {{ supporter.name }."),
            "Body, line 3: unexpected '}'",
        ),
        (
            "body",
            GOOD.replace("Please open", "Please {{ suporter.name }} open"),
            "Body, line 3: 'suporter' is not a letter variable",
        ),
        (
            "body",
            "Dear {{ target.salutation }},\n\nNo place for the note.\n",
            "the supporter's personal note has no place",
        ),
        ("body", GOOD.replace("Please open the records.", "{{ target.__class__ }}"), "not allowed in a letter"),
        ("subject", "Open {% if %}", "Subject, line 1:"),
    ],
)
def test_a_broken_letter_is_refused_with_its_field_and_line_and_nothing_is_lost(
    app, as_organizer, own_campaign, field, source, expected
):
    response = create(as_organizer, own_campaign, **{field: source})
    page = plain(response)
    assert response.status_code == 422
    assert "Not saved." in page and expected in page
    assert html.escape(source.splitlines()[0]) in response.get_data(as_text=True)  # what was typed is still there
    with app.app_context():
        assert campaigns.find_campaign(own_campaign).templates == []


def test_the_line_of_the_mistake_is_shown_and_marked_for_the_editor(as_organizer, own_campaign):
    broken = GOOD.replace("Please open the records.", "Please {{ supporter.name }.")
    page = create(as_organizer, own_campaign, body=broken).get_data(as_text=True)
    assert '<code class="source-line">Please {{ supporter.name }.</code>' in page
    assert 'data-error-line="3"' in page


def test_settings_mistakes_are_named(as_organizer, own_campaign):
    page = text(create(as_organizer, own_campaign, target_ids=[], channels=["call", "mailto"]))
    assert "Choose who this letter is for" in page
    assert "A call script is only for calls" in page


def test_saving_keeps_versions_and_letters_record_the_one_they_used(app, as_organizer, own_campaign, supporter):
    assert create(as_organizer, own_campaign).status_code == 302
    first = template_of(app, own_campaign)
    assert first.version == 1 and first.active is False  # a draft
    url = f"/organize/c/{own_campaign}/letters/{first.slug}"
    page = as_organizer.get(url).get_data(as_text=True)
    assert 'name="base_version" type="hidden" value="1"' in page
    unchanged = as_organizer.post(url, data={"csrf_token": csrf_token(page), "base_version": "1", **letter_form()})
    assert "Nothing had changed" in text(as_organizer.get(unchanged.headers["Location"]))
    changed = as_organizer.post(
        url,
        data={"csrf_token": csrf_token(page), "base_version": "1", **letter_form(subject="Please open the records")},
    )
    assert "Saved as version 2." in text(as_organizer.get(changed.headers["Location"]))

    # Published, a supporter writes with version 2 and the letter records it.
    as_organizer.post(f"{url}/active", data={"csrf_token": csrf_token(page), "active": "1"})
    with app.app_context():
        from webapp.letters import service as letters

        campaign = campaigns.find_campaign(own_campaign)
        template = letter_templates.find_template(campaign, first.slug)
        submission = letters.submit(
            campaign, template, campaign.targets, drafting.Supporter(**{**supporter, "note": "x"}), "mailto"
        )
        assert submission.letters[0].template_version == 2
        assert submission.letters[0].subject == "Please open the records"
        db.session.commit()

    versions = text(as_organizer.get(f"{url}/versions"))
    assert "Version 2" in versions and "Version 1" in versions and "1 letters written with it" in versions
    restored = as_organizer.post(f"{url}/versions/1/restore", data={"csrf_token": csrf_token(page)})
    assert "Version 1 is back, saved as version 3." in text(as_organizer.get(restored.headers["Location"]))
    with app.app_context():
        rows = db.session.scalars(
            select(TemplateVersion).where(TemplateVersion.template_id == first.id).order_by(TemplateVersion.version)
        ).all()
        assert [(r.version, r.subject, r.note) for r in rows] == [
            (1, "Open the records, {{ target.name }}", "created"),
            (2, "Please open the records", ""),
            (3, "Open the records, {{ target.name }}", "restored from version 1"),
        ]
        assert rows[0].author == "organizer@example.org"
        assert db.session.scalar(select(Letter.template_version)) == 2  # the letter keeps its version


def test_a_save_over_someone_elses_newer_version_is_stopped_once(app, as_organizer, own_campaign):
    create(as_organizer, own_campaign)
    url = f"/organize/c/{own_campaign}/letters/ask-dana-to-open-the-records"
    page = as_organizer.get(url).get_data(as_text=True)
    with app.app_context():  # a teammate saves in the meantime
        campaign = campaigns.find_campaign(own_campaign)
        letter_templates.save_template(
            campaign,
            letter_templates.TemplateInput(**{**letter_form(subject="Teammate's"), "min_note_length": 0}),
            author="teammate",
            slug="ask-dana-to-open-the-records",
        )
        db.session.commit()
    mine = as_organizer.post(
        url, data={"csrf_token": csrf_token(page), "base_version": "1", **letter_form(subject="Mine")}
    )
    assert mine.status_code == 409
    assert "Someone saved this letter (now version 2) after you opened it" in text(mine)
    assert 'name="base_version" type="hidden" value="2"' in mine.get_data(as_text=True)
    again = as_organizer.post(
        url, data={"csrf_token": csrf_token(page), "base_version": "2", **letter_form(subject="Mine")}
    )
    assert again.status_code == 302
    assert template_of(app, own_campaign).subject == "Mine"


def test_a_draft_reaches_supporters_only_once_published(app, as_organizer, own_campaign, client):
    create(as_organizer, own_campaign)
    base = f"/organize/c/{own_campaign}/"
    with app.app_context():
        campaigns.find_campaign(own_campaign).published = True
        db.session.commit()
    assert "Ask Dana to open the records" not in text(client.get(f"/c/{own_campaign}"))
    url = f"{base}letters/ask-dana-to-open-the-records"
    as_organizer.post(f"{url}/active", data={"csrf_token": form_token(as_organizer, url), "active": "1"})
    assert "Write: Ask Dana to open the records" in text(client.get(f"/c/{own_campaign}"))
    as_organizer.post(f"{url}/active", data={"csrf_token": form_token(as_organizer, url), "active": "0"})
    assert "Ask Dana to open the records" not in text(client.get(f"/c/{own_campaign}"))


def test_live_preview_renders_for_a_target_and_reports_problems_with_lines(as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/letters/preview"
    token = form_token(as_organizer, f"/organize/c/{own_campaign}/letters/new")
    payload = {
        "subject": "Hello {{ target.name }}",
        "body": GOOD,
        "target": "dana-example",
        "with_note": True,
        "channels": ["mailto"],
        "target_ids": ["dana-example"],
    }
    assert as_organizer.post(url, json=payload).status_code == 400  # no CSRF token: refused
    result = as_organizer.post(url, json=payload, headers={"X-CSRFToken": token}).get_json()
    assert result["subject"] == "Hello Dana Example"
    assert result["body"].startswith("Dear Ms. Example,") and "I am a pediatric nurse" in result["body"]
    assert result["problems"] == []
    without_note = as_organizer.post(
        url, json={**payload, "with_note": False}, headers={"X-CSRFToken": token}
    ).get_json()
    assert "pediatric nurse" not in without_note["body"]
    senator = as_organizer.post(
        url, json={**payload, "target": "sample-senator"}, headers={"X-CSRFToken": token}
    ).get_json()
    assert senator["body"].startswith("Dear Senator Example,")
    broken = as_organizer.post(
        url, json={**payload, "body": "Dear {{ target.nme }},\n{{ supporter.note }}"}, headers={"X-CSRFToken": token}
    ).get_json()
    assert broken["problems"][0]["field"] == "body"
    assert broken["problems"][0]["line"] is not None and "nme" in broken["problems"][0]["message"]


def test_the_editor_lists_every_variable_the_format_documents(as_organizer, own_campaign):
    readme = (PROJECT / "letter_templates" / "README.md").read_text()
    table = readme.split("## Variables")[1].split("\n\n")[1]
    documented = set()
    for cell in re.findall(r"^\| (`[^|]+`) \|", table, re.M):
        documented |= set(re.findall(r"`([a-z_.]+)`", cell))
    listed = {name for name, _ in editor.VARIABLES}
    assert documented == listed
    page = text(as_organizer.get(f"/organize/c/{own_campaign}/letters/new"))
    for name in listed:
        assert f"{{{{ {name} }}}}" in page


def test_the_editor_and_the_files_use_the_same_check(app, own_campaign):
    """The workspace refuses exactly what check_template refuses (the function `flask letters check` uses)."""
    broken = "Dear {{ target.salutation }},\n{{ supporter.note }}\n{{ range(10**9) }}\n"
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        data = letter_templates.TemplateInput(
            name="x", subject="s", body=broken, target_ids=["dana-example"], channels=["mailto"]
        )
        _errors, problems = letter_templates.check_template_input(campaign, data)
        assert [str(p) for p in problems] == [str(p) for p in check_template("s", broken, target_kinds=["ceo"])]
        assert problems


def test_a_minimum_personal_note_is_enforced_with_a_clear_field_error(app, as_admin, client, supporter):
    url = f"/organize/c/{LAUNCH}/letters/un-human-rights-office"
    page = as_admin.get(url).get_data(as_text=True)
    with app.app_context():
        current = letter_templates.find_template(campaigns.find_campaign(LAUNCH), "un-human-rights-office")
        form = {
            "name": current.name, "target_ids": current.target_ids, "channels": current.channels,
            "subject": current.subject, "body": current.body, "min_note_length": "80",
        }  # fmt: skip
    assert as_admin.post(url, data={"csrf_token": csrf_token(page), **form}).status_code == 302

    write = client.get(f"/c/{LAUNCH}/write?target=ohchr")
    short = {**supporter, "note": "I care."}
    refused = client.post(
        f"/c/{LAUNCH}/write",
        data={"csrf_token": csrf_token(write.get_data(as_text=True)), "targets": ["ohchr"], "template": "un-human-rights-office", **short},
    )  # fmt: skip
    body = text(refused)
    assert refused.status_code == 422
    assert "This letter asks for at least 80 characters in your own words (you wrote 7)." in body
    assert re.search(r'id="note-error">This letter asks for at least 80', body), "the error sits next to the note field"

    api = client.post(
        "/api/v1/submissions",
        json=un_letter(short),
    )  # fmt: skip
    assert api.status_code == 422
    assert api.get_json()["errors"]["supporter.note"][0].startswith("This letter asks for at least 80 characters")

    enough = {**supporter, "note": "x" * 80}
    ok = client.post(
        "/api/v1/submissions",
        json=un_letter(enough),
    )  # fmt: skip
    assert ok.status_code == 202


def test_a_call_script_cannot_ask_for_a_note(as_organizer, own_campaign):
    page = text(
        create(
            as_organizer,
            own_campaign,
            channels=["call"],
            min_note_length="20",
            body="Hello, I am {{ supporter.name }}.",
        )
    )
    assert "A call script has no personal note" in page


def test_reserved_and_taken_file_names_are_refused(as_organizer, own_campaign):
    assert "already a letter called new" in text(create(as_organizer, own_campaign, slug="new"))
    create(as_organizer, own_campaign, slug="ask")
    assert "already a letter called ask" in text(create(as_organizer, own_campaign, slug="ask"))


def test_launch_letters_open_in_the_editor_without_changes(app, as_admin):
    """Saving a letter loaded from the files without touching it must not make a new version."""
    url = f"/organize/c/{LAUNCH}/letters/congress-reunite-and-investigate"
    page = as_admin.get(url).get_data(as_text=True)
    from tests.support.forms import form_fields

    fields = form_fields(page.split('id="template-form"')[1].split("</form>")[0].join(["<form ", "</form>"]))
    response = as_admin.post(url, data={k: v for k, v in fields.items()})
    assert "Nothing had changed" in text(as_admin.get(response.headers["Location"]))


def test_templates_loaded_from_files_have_their_first_version_kept(app):
    with app.app_context():
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "call-script"))
        assert (
            db.session.scalar(
                select(TemplateVersion).where(
                    TemplateVersion.template_id == template.id, TemplateVersion.version == template.version
                )
            )
            is not None
        )


def test_variables_match_the_readme_file_is_where_we_think():
    assert Path(PROJECT / "letter_templates" / "README.md").is_file()


def test_two_saves_from_the_same_version_at_once_keep_the_first_and_stop_the_second(app, own_campaign):
    """Both requests read version 1 and passed the version check before either wrote: the second write finds the
    letter moved on and is the 409 conflict, neither a 500 (two version 2s) nor an overwrite of the first."""
    letter = {
        "name": "Ask Dana",
        "body": "{{ supporter.note }}",
        "target_ids": ["dana-example"],
        "channels": ["mailto"],
    }

    def teammate_saves():
        with app.app_context():
            campaign = campaigns.find_campaign(own_campaign)
            data = letter_templates.TemplateInput(**letter, subject="Teammate's")
            letter_templates.save_template(campaign, data, author="teammate", slug="ask-dana", base_version=1)
            db.session.commit()

    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        active_letter(campaign)
        db.session.commit()
        assert letter_templates.find_template(campaign, "ask-dana").version == 1  # this request has read it
        teammate = threading.Thread(target=teammate_saves)
        teammate.start()
        teammate.join()
        with pytest.raises(Conflict) as refused:
            data = letter_templates.TemplateInput(**letter, subject="Mine")
            letter_templates.save_template(campaign, data, author="me", slug="ask-dana", base_version=1)
        assert "Someone saved this letter" in refused.value.errors["version"][0]
        db.session.rollback()
    with app.app_context():
        template = letter_templates.find_template(campaigns.find_campaign(own_campaign), "ask-dana")
        assert (template.version, template.subject) == (2, "Teammate's")
        assert [v.author for v in letter_templates.versions_of(template)] == ["teammate", "test"]


@pytest.mark.parametrize("base", ["²", "٣", "9" * 5000, "-1", "1.0"])
def test_a_mangled_base_version_is_a_conflict_never_a_crash_or_an_overwrite(app, as_organizer, own_campaign, base):
    """The editor's hidden version, changed by hand or by a browser extension: the save stops as if someone had saved
    in between, with the text kept and the current version put back in the form."""
    create(as_organizer, own_campaign)
    url = f"/organize/c/{own_campaign}/letters/ask-dana-to-open-the-records"
    page = as_organizer.get(url).get_data(as_text=True)
    mine = as_organizer.post(
        url, data={"csrf_token": csrf_token(page), "base_version": base, **letter_form(subject="Mine")}
    )
    assert mine.status_code == 409
    assert "Someone saved this letter" in text(mine) and 'value="Mine"' in mine.get_data(as_text=True)
    assert 'name="base_version" type="hidden" value="1"' in mine.get_data(as_text=True)
    assert template_of(app, own_campaign).subject != "Mine"
    languages = f"{url}/languages/es"
    spanish = as_organizer.post(
        languages,
        data={
            "csrf_token": csrf_token(page),
            "base_version": base,
            "name": "Pide",
            "subject": "Abre",
            "body": "{{ supporter.note }}",
        },  # fmt: skip
    )
    assert spanish.status_code == 409 and "Someone saved this letter" in text(spanish)
