"""An organizer fills in a member of Congress's missing contact form in a real browser, at phone size too, and a
supporter's hand-off then opens that form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_organizer import log_in
from tests.organize.conftest import ADMIN
from tests.support.letters import LAUNCH

FORM = "https://pelosi.house.gov/contact/email-me"


@pytest.mark.parametrize("size", [{"width": 1280, "height": 900}, {"width": 390, "height": 844, "mobile": True}])
def test_an_organizer_fills_in_a_missing_contact_form(new_page, people, fresh_congress, size):
    page = new_page(**size)
    log_in(page, ADMIN)
    page.goto(f"/organize/c/{LAUNCH}/")
    page.get_by_role("navigation", name="Campaign").get_by_role("link", name="Congress").click()
    page.get_by_role("link", name="California").click()
    member = page.locator("article").filter(has_text="Representative Nancy Pelosi")
    expect(member).to_contain_text("No contact form yet: supporters get the home page")

    field = member.get_by_label("Contact form of Nancy Pelosi")
    field.fill("https://pelosi-contact.example/form")
    member.get_by_role("button", name="Save").click()
    member = page.locator("article").filter(has_text="Representative Nancy Pelosi")
    expect(member.locator(".error")).to_contain_text("Use a page on Nancy Pelosi's own website, pelosi.house.gov")
    expect(member.get_by_label("Contact form of Nancy Pelosi")).to_have_value("https://pelosi-contact.example/form")

    member.get_by_label("Contact form of Nancy Pelosi").fill(FORM)
    member.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-ok")).to_contain_text("supporters writing to this member now get their contact form")
    member = page.locator("article").filter(has_text="Representative Nancy Pelosi")
    expect(member).to_contain_text(f"Contact form entered by {ADMIN}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    if not size.get("mobile"):
        page.get_by_label("State or territory").select_option("")
        page.get_by_label("Name").fill("pelosi")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#matched")).to_have_text("1 member without a contact form from the data.")
        screenshot(page, "7-organizer-congress-form-links")
