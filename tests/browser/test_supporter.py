"""Supporters in a real browser: own-email sending to the UN watched live, and the phone hand-offs on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.axe import check_accessible
from tests.browser.conftest import screenshot
from tests.support.letters import LAUNCH
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.waiting import wait_for


def test_supporter_sends_to_the_un_from_their_own_account_and_watches_it_go(new_page, mail_server):
    page = new_page()
    watcher = new_page()  # the campaign page left open in another window: its totals move by themselves
    watcher.goto(f"/c/{LAUNCH}")
    sent_before = int(watcher.locator('#totals [data-total="sent"]').inner_text())

    page.goto(f"/c/{LAUNCH}")
    page.get_by_label("Your ZIP code").fill("94110")
    page.get_by_role("button", name="Find them").click()
    expect(page.locator("#congress .member").first).to_be_visible()
    expect(page.locator("#congress")).to_contain_text("Senator")

    page.locator("#target-ohchr").get_by_role("link", name=re.compile("Ask the UN")).click()
    expect(page.get_by_role("heading", name="Write your letter")).to_be_visible()
    expect(page.locator('input[name="targets"][value="ohchr"]')).to_be_checked()
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill(USERNAME)
    expect(page.get_by_label("ZIP code")).to_have_count(0)  # a ZIP only when Congress is in the group
    page.get_by_label("In your own words (optional)").fill(
        "My grandmother crossed this border with my mother in her arms."
    )
    page.get_by_role("button", name="Preview my letter").click()

    expect(page.get_by_role("heading", name="Check and edit your letter")).to_be_visible()
    expect(page.locator("textarea").first).to_contain_text("Dear Office of the High Commissioner,")
    page.get_by_label("Your email provider").select_option("other")
    page.get_by_label("Outgoing mail server (SMTP)").fill(mail_server.host)
    page.get_by_label("Port").fill(str(mail_server.port))
    page.get_by_label("Password or app password").fill(PASSWORD)
    mail_server.script.data_delay = 2.0  # the supporter's server thinks a moment, so the page shows it waiting first
    page.get_by_role("button", name="Send from my email").click()

    expect(page.get_by_role("heading", name="Your letters")).to_be_visible()
    page.evaluate("window.__stillTheSamePage = true")
    status = page.locator('[data-field="status"]')
    expect(status).to_have_text(re.compile("Waiting to be sent|Sending"))
    expect(status).to_have_text("Sent from your email account.", timeout=30_000)
    assert page.evaluate("window.__stillTheSamePage === true"), "the status page reloaded instead of updating itself"
    messages = wait_for(lambda: list(mail_server.received), what="the letter at the SMTP server")
    assert messages[0].rcpt_tos == ["petitions@ohchr.org"]
    assert "My grandmother crossed this border" in messages[0].message.get_content()
    check_accessible(page, "status page, sent")
    screenshot(page, "1-supporter-status-sent")

    # The window left open counts it within one refresh of its totals, without a reload.
    expect(watcher.locator('#totals [data-total="sent"]')).to_have_text(str(sent_before + 1), timeout=20_000)
    expect(watcher.locator('#totals tr[data-target="ohchr"] [data-count="sent"]')).to_have_text("1")
    check_accessible(watcher, "campaign page, totals moved")
    screenshot(watcher, "1-supporter-campaign-total-moved")


def _fits(page, locator, width: int) -> None:
    """Visible, and inside the phone's width (no sideways scrolling needed to reach it)."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box


def _no_sideways_scrolling(page, width: int) -> None:
    page.wait_for_load_state("load")  # measured with the stylesheet applied
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_on_a_phone_the_mail_app_contact_form_and_call_paths_work(new_page, supporter):
    width = 390
    page = new_page(width=width, height=844, permissions=["clipboard-read", "clipboard-write"], mobile=True)

    # Members of Congress by ZIP: a contact-form letter, with copy buttons and the form one tap away.
    page.goto(f"/c/{LAUNCH}?zip=94110#congress")
    member = page.locator("#congress .member").filter(has=page.get_by_role("link", name="Write a letter")).first
    _fits(page, member.get_by_role("link", name="Write a letter"), width)
    _fits(page, member.get_by_role("link", name="Call"), width)
    member.get_by_role("link", name="Write a letter").click()
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_label("Postal address (optional)").fill(supporter["address"])
    page.get_by_label("In your own words (optional)").fill(supporter["note"])
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Show me what to paste").click()
    expect(page.get_by_text(re.compile("Ready for you to paste into"))).to_be_visible()
    _fits(page, page.get_by_role("link", name=re.compile("(contact form|website)$")).first, width)
    source = page.get_by_role("button", name="Copy the letter").first.get_attribute("data-copy")
    copy = page.locator(f'button[data-copy="{source}"]')  # pinned: its name changes to "Copied"
    _fits(page, copy, width)
    copy.click()
    expect(copy).to_have_text("Copied")
    body = page.locator(f"#{source}").inner_text()
    assert _clipboard(page) == body and supporter["note"] in body
    page.get_by_role("button", name="I sent it through the form").click()
    expect(page.get_by_text("Thank you — noted")).to_be_visible()
    _no_sideways_scrolling(page, width)
    check_accessible(page, "contact-form hand-off, confirmed (phone)")
    screenshot(page, "2-phone-contact-form")

    # The UN office by mail app: the link carries the letter; the address copies with one tap. The details given
    # for the first letter are not asked again.
    page.goto(f"/c/{LAUNCH}/write?target=ohchr&template=un-human-rights-office")
    expect(page.get_by_text(f"Writing as {supporter['name']}, {supporter['email']}.")).to_be_visible()
    page.get_by_label("In your own words (optional)").fill(supporter["note"])
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Get the mail links").click()
    mail_link = page.get_by_role("link", name="Open in my mail app")
    _fits(page, mail_link, width)
    assert mail_link.get_attribute("href").startswith("mailto:petitions@ohchr.org?subject=")
    to_copy = page.get_by_role("button", name="Copy email address")
    _fits(page, to_copy, width)
    to_copy.click()
    assert _clipboard(page) == "petitions@ohchr.org"
    check_accessible(page, "mail-app hand-off (phone)")
    screenshot(page, "2-phone-mailto")

    # A call: the script with the supporter's name and ZIP, and the number as a tel: link.
    page.goto(f"/c/{LAUNCH}#target-us-mission-un")
    call = page.locator("#target-us-mission-un").get_by_role("link", name=re.compile("^Call"))
    _fits(page, call, width)
    call.click()
    expect(page.get_by_label(re.compile("US Mission to the United Nations"))).to_be_checked()
    page.get_by_role("button", name="Start calling").click()
    dial = page.get_by_role("link", name="Call (212) 415-4000")
    _fits(page, dial, width)
    assert dial.get_attribute("href") == "tel:+12124154000"
    expect(page.locator("pre.script")).to_contain_text(f"my name is {supporter['name']}")
    page.get_by_role("button", name="I talked to someone").click()
    expect(page.get_by_text("US Mission to the United Nations: You talked to someone.")).to_be_visible()
    _no_sideways_scrolling(page, width)
    check_accessible(page, "calls done (phone)")
    screenshot(page, "2-phone-call")


def test_on_a_phone_a_letter_pasted_too_long_is_kept_whole_and_the_counter_says_what_to_cut(new_page, supporter):
    page = new_page(width=390, height=844, permissions=["clipboard-read", "clipboard-write"], mobile=True)
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    body = page.get_by_label("Letter", exact=True)
    pasted = "Dear Office,\n\n" + "a" * 25000 + "\n\nEND OF MY LETTER"  # 25,032 characters, pasted at once
    page.evaluate("text => navigator.clipboard.writeText(text)", pasted)
    body.fill("")
    body.focus()
    page.keyboard.press("Control+V")
    assert body.input_value() == pasted, "the browser kept the whole paste"
    counter = page.locator('[data-counter-for="letters-0-body"]')
    expect(counter).to_have_text("25,032 of 20,000 characters: please cut 5,032.")
    page.get_by_role("button", name="Get the mail links").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.locator("[data-error-summary]")).to_contain_text("so please cut 5,032.")
    assert page.get_by_label("Letter", exact=True).input_value() == pasted
    expect(counter).to_have_text("25,032 of 20,000 characters: please cut 5,032.")
    check_accessible(page, "preview, a letter too long")
