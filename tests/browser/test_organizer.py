"""Organizers in a real browser: a letter refused with its line, fixed, previewed live and published (and a
supporter then sees it); the dashboard's charts and CSV downloads with the right numbers."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.organize.conftest import ADMIN, ORGANIZER, PASSWORD
from tests.support.letters import LAUNCH
from webapp.campaigns.service import find_campaign
from webapp.extensions import db
from webapp.letters import drafting
from webapp.letters import service as letters
from webapp.models import Target

# A save runs the whole template check (every sample supporter and target, in render processes): on a loaded
# machine that takes longer than an expectation's default 5 s.
SAVE_MS = 30_000

BROKEN = """Dear {{ target.salutation }},

Please publish the data your company holds, {{ supporter.name }.

{{ supporter.note }}

Sincerely,
{{ supporter.name }}
"""
FIXED = BROKEN.replace("{{ supporter.name }.", "so that families can find each other.")


def log_in(page, email: str) -> None:
    page.goto("/organize/")
    expect(page.get_by_role("heading", name="Log in to organize")).to_be_visible()  # the workspace asks first
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your campaigns")).to_be_visible()


def test_organizer_fixes_a_refused_letter_previews_it_and_publishes_it(new_page, own_campaign):
    page = new_page()
    log_in(page, ORGANIZER)
    page.get_by_role("link", name="Free the test data").click()
    page.get_by_role("navigation", name="Campaign").get_by_role("link", name="Letters").click()
    page.get_by_role("link", name="Write a new letter").click()

    page.get_by_label("Name supporters pick it by").fill("Ask Dana to open the records")
    page.get_by_label("Dana Example").check()
    page.get_by_label("Subject").fill("Open the records, {{ target.name }}")
    page.get_by_label("Add “Dear …,” and the sign-off for me").uncheck()  # this letter has its own
    page.get_by_label("Letter", exact=True).fill(BROKEN)
    page.get_by_role("button", name="Save the letter").click()

    problems = page.locator("#problems")
    expect(problems).to_contain_text("Not saved.")
    expect(problems).to_contain_text("Body, line 3:")
    expect(problems.locator("code.source-line")).to_have_text(
        "Please publish the data your company holds, {{ supporter.name }."
    )
    expect(page.get_by_label("Letter", exact=True)).to_have_value(BROKEN)  # nothing typed is lost
    expect(page.locator("[data-preview-problems]")).to_contain_text("line 3")  # the live check agrees
    screenshot(page, "3-organizer-letter-refused")

    page.get_by_label("Letter", exact=True).fill(FIXED)
    page.locator("[data-preview-target]").select_option("dana-example")
    preview = page.locator("[data-preview-body]")
    expect(preview).to_contain_text("Dear Ms. Example,")
    expect(preview).to_contain_text("so that families can find each other.")
    expect(preview).to_contain_text("I am a pediatric nurse")  # the sample supporter's own words
    expect(page.locator("[data-preview-subject]")).to_have_text("Open the records, Dana Example")
    expect(page.locator("[data-preview-problems]")).to_be_hidden()
    page.get_by_role("button", name="Save the letter").click()
    expect(page.locator(".flash-ok")).to_contain_text("version 1", timeout=SAVE_MS)

    page.get_by_role("button", name="Publish this letter").click()
    expect(page.locator(".editor-head .badge")).to_have_text("Offered to supporters")
    screenshot(page, "3-organizer-letter-published")
    page.get_by_role("navigation", name="Campaign").get_by_role("link", name="Settings").click()
    page.locator("#state").get_by_role("button", name="Publish").click()
    expect(page.locator(".state-line .badge")).to_have_text("Live")

    supporter = new_page(width=390, height=844, mobile=True)
    supporter.goto("/")
    supporter.get_by_role("link", name="Free the test data").first.click()
    supporter.get_by_role("link", name="Write: Ask Dana to open the records").click()
    expect(supporter.get_by_label("Ask Dana to open the records")).to_be_checked()
    supporter.get_by_label("Your name").fill("Sam Lee")
    supporter.get_by_label("Your email address").fill("sam@example.org")
    expect(supporter.get_by_label("ZIP code")).to_have_count(0)  # asked only when Congress is in the group
    supporter.get_by_role("button", name="Preview my letter").click()
    expect(supporter.locator("textarea").first).to_contain_text("so that families can find each other.")
    screenshot(supporter, "3-supporter-sees-the-new-letter")


def test_insert_a_field_buttons_write_the_template_code_where_the_cursor_is(new_page, own_campaign):
    page = new_page()
    log_in(page, ORGANIZER)
    page.goto(f"/organize/c/{own_campaign}/letters/new")
    page.get_by_label("Name supporters pick it by").fill("Ask Dana, in our words")
    page.get_by_label("Dana Example").check()
    expect(page.get_by_label("Add “Dear …,” and the sign-off for me")).to_be_checked()  # new letters are framed
    fields = page.get_by_role("group", name="Insert where the cursor is:")
    expect(fields).to_be_visible()

    subject = page.get_by_label("Subject")
    subject.fill("Open the records, ")
    subject.press("End")
    fields.get_by_role("button", name="Target's name").click()
    expect(subject).to_have_value("Open the records, {{ target.name }}")

    body = page.get_by_label("Letter", exact=True)
    body.fill("My name is  and I live in ZIP code .")
    body.evaluate("area => area.setSelectionRange(11, 11)")  # between the two spaces
    fields.get_by_role("button", name="Supporter's name").click()
    expect(body).to_have_value("My name is {{ supporter.name }} and I live in ZIP code .")
    body.evaluate("area => area.setSelectionRange(area.value.length - 1, area.value.length - 1)")  # before the dot
    fields.get_by_role("button", name="Their ZIP code").click()
    expect(body).to_have_value("My name is {{ supporter.name }} and I live in ZIP code {{ supporter.zip }}.")

    page.locator("[data-preview-target]").select_option("dana-example")
    preview = page.locator("[data-preview-body]")
    expect(preview).to_contain_text("Dear Ms. Example,")  # the frame, added for the organizer
    expect(preview).to_contain_text("My name is Alex Rivera and I live in ZIP code 94110.")
    expect(preview).to_contain_text("I am a pediatric nurse")  # the supporter's own words, placed by the frame
    expect(preview).to_contain_text("Sincerely,\nAlex Rivera")
    expect(page.locator("[data-preview-subject]")).to_have_text("Open the records, Dana Example")
    screenshot(page, "5-organizer-insert-fields")
    page.get_by_role("button", name="Save the letter").click()
    expect(page.locator(".flash-ok")).to_contain_text("version 1", timeout=SAVE_MS)
    expect(page.get_by_label("Letter", exact=True)).to_have_value(
        "My name is {{ supporter.name }} and I live in ZIP code {{ supporter.zip }}.\n"
    )

    phone = new_page(width=390, height=844, mobile=True)
    log_in(phone, ORGANIZER)
    phone.goto(f"/organize/c/{own_campaign}/letters/ask-dana-in-our-words")
    phone.get_by_role("group", name="Insert where the cursor is:").get_by_role("button", name="Their own words").click()
    expect(phone.get_by_label("Letter", exact=True)).to_have_value(re.compile(r"\{\{ supporter\.note \}\}"))
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling


def _seed_letters(app) -> None:
    """Letters of the launch campaign: 3 to the UN by mail app (1 confirmed as sent) and 1 call to the US Mission."""
    with app.app_context():
        campaign = find_campaign(LAUNCH)
        un, mission = db.session.get(Target, "ohchr"), db.session.get(Target, "us-mission-un")
        person = drafting.Supporter(
            name="Private Person",
            email="private@example.org",
            zip="94110",
            address="1 Secret Lane",
            note="my secret words",
        )
        letter = next(t for t in campaign.templates if t.slug == "un-human-rights-office")
        submissions = [letters.submit(campaign, letter, [un], person, "mailto") for _ in range(3)]
        letters.confirm(submissions[0].letters[0], "sent")
        script = next(t for t in campaign.templates if t.slug == "call-script")
        caller = drafting.Supporter(name="Private Person", email="", zip="94110")
        letters.submit(campaign, script, [mission], caller, "call")
        db.session.commit()


def test_dashboard_shows_the_charts_and_the_downloads_have_the_right_numbers(app, new_page, people):
    _seed_letters(app)
    page = new_page()
    log_in(page, ADMIN)
    page.goto(f"/organize/c/{LAUNCH}/dashboard")
    expect(page.locator('[data-figure="went_out"]')).to_have_text("1")  # the one confirmed hand-off
    expect(page.locator('[data-figure="shown_only"]')).to_have_text("3")
    expect(page.locator('[data-figure="confirmed"]')).to_have_text("1")
    bars = page.locator("#per-target figure.bar-chart")
    expect(bars.locator("figcaption")).to_have_text(f"Letters per target, {'Reunite families separated at the border'}")
    expect(bars.locator("svg.bar")).to_have_count(3)  # the campaign's three targets
    un = bars.locator(".bar-row").filter(has_text="UN Human Rights Office")
    expect(un.locator(".bar-total")).to_have_text("1")
    expect(un.locator(".bar-extra")).to_have_text("+2 shown, not confirmed")
    expect(un.locator("svg")).to_have_attribute("aria-label", re.compile(r"1 confirmed, 2 shown, not confirmed"))
    expect(un.locator("rect.series-confirmed")).to_be_visible()
    expect(un.locator("rect.series-shown_only")).to_be_visible()
    per_day = page.locator("#per-day figure.line-chart svg")
    expect(per_day).to_be_visible()
    expect(per_day).to_have_attribute("aria-label", re.compile(r"^went out: \w+ \d+ 1; hand-offs shown: \w+ \d+ 4$"))
    expect(page.locator('[data-figure="personal"]')).to_have_text(re.compile(r"\d+%"))
    screenshot(page, "4-organizer-dashboard")

    def download(name: str) -> list[dict]:
        with page.expect_download() as info:
            page.get_by_role("link", name=name).click()
        text = Path(info.value.path()).read_text(encoding="utf-8")
        assert "Private Person" not in text and "private@example.org" not in text and "secret" not in text
        return list(csv.DictReader(io.StringIO(text)))

    per_target = {row["target_id"]: row for row in download("Totals per target (CSV)")}
    assert per_target["ohchr"]["handed_off"] == "3" and per_target["ohchr"]["confirmed"] == "1"
    assert per_target["ohchr"]["sent"] == "0"
    assert per_target["us-mission-un"]["handed_off"] == "1"
    assert per_target["ohchr"]["went_out"] == "1" and per_target["ohchr"]["shown_only"] == "2"
    assert per_target["general-dynamics-ceo"]["went_out"] == "0"
    per_day = download("Totals per day (CSV)")
    assert len(per_day) == 1 and per_day[0]["handed_off"] == "4" and per_day[0]["went_out"] == "1"
    rows = download("Letters, without personal data (CSV)")
    assert sorted(row["channel"] for row in rows) == ["call", "mailto", "mailto", "mailto"]
    assert set(rows[0]) == {
        "day", "target_id", "target_name", "template", "template_version", "channel", "status", "outcome",
        "personal_share", "failure_reason",
    }  # fmt: skip


def test_every_campaign_tab_is_on_screen_on_a_phone(new_page, people):
    """At 390 px the tab row (Settings, Targets, Congress, Letters, Dashboard) used to scroll sideways inside itself
    with no scrollbar on a phone, so Dashboard sat off the screen and an organizer never knew it was there."""
    phone = new_page(width=390, height=844, mobile=True)
    log_in(phone, ADMIN)
    phone.goto(f"/organize/c/{LAUNCH}/letters")
    tabs = phone.get_by_role("navigation", name="Campaign").get_by_role("link")
    names = tabs.all_inner_texts()
    assert "Dashboard" in names and "Congress" in names, names
    for index in range(tabs.count()):
        box = tabs.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (names[index], box)
    screenshot(phone, "organizer-tabs-phone")
