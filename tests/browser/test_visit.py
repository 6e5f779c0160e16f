"""The supporter's whole visit in a real browser, on a phone (390×844) and a desktop: errors summarised and focused,
edits that survive every back-and-forth, details asked once, calls stepped through office after office, the receipt
and sharing; and on every page state, axe-core finds nothing serious, nothing scrolls sideways and each card has one
primary action."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import check_accessible
from tests.browser.conftest import screenshot
from tests.conftest import PROJECT
from tests.support.letters import LAUNCH
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.waiting import wait_for
from webapp.campaigns.files import read_all

SIZES = {"phone": {"width": 390, "height": 844, "mobile": True}, "desktop": {"width": 1280, "height": 900}}
PADILLA, SCHIFF, PELOSI = "P000145", "S001150", "P000197"
CAMPAIGNS = [spec.slug for spec in read_all(PROJECT / "letter_templates")]


def open_page(new_page, size: str, **extra):
    return new_page(**SIZES[size], **extra)


# A supporter page is its HTML, one stylesheet and one script (the printed letter and the poster add a print
# stylesheet, the poster its QR code; live status and totals are fetched later); the HTML stays small.
EXTRA_REQUESTS = {"/print": 1, "/poster": 2}
HTML_BYTES = 24_000


def check(page, state: str) -> None:
    """What every supporter page state must hold: axe-core clean, no sideways scrolling, one primary action a card,
    and a light page."""
    page.wait_for_load_state("load")
    loaded = page.evaluate(
        """() => [performance.getEntriesByType('navigation')[0].encodedBodySize,
                  performance.getEntriesByType('resource').filter(r => r.initiatorType !== 'fetch')
                    .map(r => r.name).filter(n => !n.endsWith('/favicon.ico'))]"""
    )
    html_bytes, resources = loaded
    extra = next((n for suffix, n in EXTRA_REQUESTS.items() if page.url.split("?")[0].endswith(suffix)), 0)
    assert 1 + len(resources) <= 3 + extra, f"{state}: {resources}"
    assert html_bytes <= HTML_BYTES, f"{state}: {html_bytes} bytes of HTML"
    check_accessible(page, state)
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{state} scrolls sideways"
    crowded = page.evaluate(
        """() => Array.from(document.querySelectorAll('.card')).filter(card =>
             Array.from(card.querySelectorAll('.button.primary')).filter(b =>
               b.closest('.card') === card && b.offsetParent !== null).length > 1
           ).map(card => card.id || card.className)"""
    )
    assert not crowded, f"{state}: cards with more than one primary action: {crowded}"


def summary_is_focused_and_visible(page) -> None:
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    assert summary.get_attribute("role") == "alert"
    assert page.title().startswith("Error: ")


def message_beside(page, field_id: str, text: str) -> None:
    """The field's own message is next to it, and the field points screen readers at it."""
    field = page.locator(f"#{field_id}")
    expect(field).to_have_attribute("aria-invalid", "true")
    described = field.get_attribute("aria-describedby").split()
    assert f"{field_id}-error" in described
    expect(page.locator(f"#{field_id}-error")).to_have_text(re.compile(re.escape(text)))


# ---- 2. errors: a summary at the top, focused, each problem linked to its field ------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_errors_are_summarised_at_the_top_focused_and_linked_to_each_field(new_page, size, supporter):
    page = open_page(new_page, size)
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    page.get_by_label("Your email address").fill("not an email")
    page.get_by_label("In your own words (optional)").fill("My own words, kept through the error.")
    page.get_by_role("button", name="Preview my letter").click()

    summary_is_focused_and_visible(page)
    summary = page.locator("[data-error-summary]")
    expect(summary.get_by_role("link")).to_have_count(2)
    message_beside(page, "name", "Please enter your name.")
    email_problem = page.locator("#email-error").inner_text()
    message_beside(page, "email", email_problem)
    expect(page.get_by_label("In your own words (optional)")).to_have_value("My own words, kept through the error.")
    check(page, f"write page with errors ({size})")
    screenshot(page, f"visit-errors-{size}")

    summary.get_by_role("link", name="Please enter your name.").click()
    expect(page.get_by_label("Your name")).to_be_focused()
    summary.get_by_role("link", name=email_problem).click()
    expect(page.get_by_label("Your email address")).to_be_focused()

    # On the preview: a printed letter without an address. The problem is summarised and the field to fix it is
    # right there, in the card of the way the supporter chose.
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    page.goto(f"/c/{LAUNCH}/write?target=general-dynamics-ceo")
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Make my printable letter").click()
    summary_is_focused_and_visible(page)
    message_beside(page, "address", "A printed letter needs your postal address")
    page.locator("[data-error-summary]").get_by_role("link").click()
    expect(page.locator("#send-print").get_by_label("Your postal address")).to_be_focused()
    check(page, f"preview with an error ({size})")


# ---- 2 and 10. edits survive every back-and-forth; reloading the preview posts nothing ------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_edits_survive_changing_details_adding_an_address_and_reloading(new_page, size, supporter):
    page = open_page(new_page, size)
    page.goto(f"/c/{LAUNCH}/write?zip=94110&target={PADILLA}&target={SCHIFF}&target={PELOSI}")
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    expect(page).to_have_url(re.compile(rf"/c/{LAUNCH}/letter/"))
    # One notice for the three members, not one per letter.
    expect(page.get_by_text("Members of Congress don't publish email addresses")).to_have_count(1)
    check(page, f"preview for three members ({size})")

    letters = page.locator("textarea[name$='-body']")
    own = letters.nth(0).input_value().replace("Every week a child", "MY OWN SENTENCE. Every week a child")
    letters.nth(0).fill(own)

    # Reloading asks nothing and sends nothing: the preview is a page of its own.
    methods = []
    page.on("request", lambda request: methods.append(request.method) if request.is_navigation_request() else None)
    page.reload()
    assert methods == ["GET"]
    letters.nth(0).fill(own)  # whatever the browser restored, the supporter's edit is in the box again

    # Back to change the name: the edited letter is kept as it was, the others are written again with the new name.
    page.get_by_role("button", name="Change who I write to or my details").click()
    expect(page.get_by_role("heading", name="Write your letter")).to_be_visible()
    page.get_by_text("Writing as Maria Lopez").click()
    page.get_by_label("Your name").fill("Maria L. Lopez")
    page.get_by_role("button", name="Preview my letter").click()
    expect(letters.nth(0)).to_have_value(own)
    expect(page.get_by_text("You changed this letter earlier, so it is kept just as you left it.")).to_have_count(1)
    expect(letters.nth(1)).to_have_value(re.compile("Maria L. Lopez$"))

    # Switching to print: no address yet. Adding it on the preview keeps every edit, and reaches the letters
    # the supporter didn't change.
    page.get_by_role("button", name="Make my printable letter").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(letters.nth(0)).to_have_value(own)
    page.locator("#send-print").get_by_label("Your postal address").fill(supporter["address"])
    page.get_by_role("button", name="Make my printable letter").click()
    expect(page.get_by_role("heading", name="Your letters")).to_be_visible()
    check(page, f"status of three printed letters ({size})")

    first = page.locator(".letter-status").nth(0)
    first.get_by_role("link", name="Open the printable letter").click()
    expect(page.locator(".printed-letter")).to_contain_text("MY OWN SENTENCE.")
    # The print page: a heading, a landmark, room to sign, and the district office nearest the supporter chosen.
    expect(page.get_by_role("heading", level=1)).to_contain_text("ready to print")
    expect(page.get_by_label("Mail it to")).to_have_value(re.compile(".+"))
    assert "nearest to you" in page.get_by_label("Mail it to").locator("option:checked").inner_text()
    space = page.locator(".signature-space").bounding_box()
    assert space and space["height"] >= 60, space
    check(page, f"print page ({size})")
    screenshot(page, f"visit-print-{size}")
    page.go_back()
    page.locator(".letter-status").nth(1).get_by_role("link", name="Open the printable letter").click()
    expect(page.locator(".printed-letter .signature")).to_contain_text("Maria L. Lopez\n500 Valencia St")


@pytest.mark.parametrize("size", ["phone"])
def test_a_failed_own_email_send_is_sent_again_with_the_letter_as_written(new_page, size, mail_server):
    page = open_page(new_page, size)
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill(USERNAME)
    page.get_by_role("button", name="Preview my letter").click()
    body = page.locator("textarea[name$='-body']").first
    body.fill(body.input_value().replace("Thank you for standing up", "MY EDIT SURVIVES. Thank you for standing up"))
    page.get_by_label("Your email provider").select_option("other")
    page.get_by_label("Outgoing mail server (SMTP)").fill(mail_server.host)
    page.get_by_label("Port").fill(str(mail_server.port))
    page.get_by_label("Password or app password").fill("the wrong password")
    page.get_by_role("button", name="Send from my email").click()
    expect(page.locator('[data-field="status"]')).to_have_text("Not sent.", timeout=30_000)
    again = page.locator("#send-again")
    expect(again).to_be_visible()  # the page loads itself again when the failure arrives, with the form to retry
    check(page, f"status of a failed letter ({size})")
    again.get_by_label("Password or app password").fill(PASSWORD)
    again.get_by_role("button", name="Send again").click()
    expect(page.locator('[data-field="status"]')).to_have_text("Sent from your email account.", timeout=30_000)
    received = wait_for(lambda: list(mail_server.received), what="the letter sent again")
    assert "MY EDIT SURVIVES" in received[-1].message.get_content()


# ---- 4. details once per visit; a ZIP only for Congress; the next step after each action -------------------------


@pytest.mark.parametrize("size", SIZES)
def test_details_are_asked_once_and_the_next_step_is_offered(new_page, size, supporter):
    page = open_page(new_page, size)
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    expect(page.get_by_label("ZIP code")).to_have_count(0)  # the UN doesn't need it
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Get the mail links").click()

    next_step = page.locator(".next-step")
    expect(next_step).to_contain_text("You've written 1 of 2 letters and made 0 of 2 calls.")
    next_step.get_by_role("link", name="Find your two senators and your representative by ZIP code").click()
    page.get_by_label("Your ZIP code").fill("94110")
    page.get_by_role("button", name="Find them").click()
    check(page, f"campaign page with a ZIP and a visit under way ({size})")
    page.get_by_role("link", name="Write one letter to all 3").click()

    expect(page.get_by_text(f"Writing as {supporter['name']}, {supporter['email']}.")).to_be_visible()
    expect(page.get_by_label("Your name")).to_be_hidden()  # not asked again
    expect(page.get_by_label("ZIP code")).to_have_value("94110")
    check(page, f"write page with known details ({size})")
    screenshot(page, f"visit-details-once-{size}")
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Show me what to paste").click()
    expect(page.locator(".next-step")).to_contain_text("You've written 4 of 5 letters")
    expect(page.locator(".next-step").get_by_role("link", name="Write to Phebe Novakovic")).to_be_visible()


# ---- 4. calls, one office after another --------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_calls_are_stepped_through_office_after_office(new_page, size, client):
    before = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    page = open_page(new_page, size)
    page.goto(f"/c/{LAUNCH}/call?zip=94110")
    page.get_by_label("Your name").fill("Maria Lopez")
    check(page, f"call start ({size})")
    page.get_by_role("button", name="Start calling").click()

    outcomes = [
        ("Senator Alex Padilla (D-CA)", "tel:+12022243553", "I talked to someone"),
        ("Senator Adam B. Schiff (D-CA)", "tel:+12022243841", "Busy or no answer"),
        ("Representative Nancy Pelosi (D-CA-11)", "tel:+12022254965", "Skip this office"),
        ("Phebe Novakovic", "tel:+17038763000", "I left a voicemail"),
        ("US Mission to the United Nations", "tel:+12124154000", "I talked to someone"),
    ]
    for number, (name, tel, outcome) in enumerate(outcomes, start=1):
        expect(page.get_by_text(f"Call {number} of 5")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        assert page.get_by_role("link", name=re.compile(r"^Call \(?\d")).get_attribute("href") == tel
        expect(page.locator("pre.script")).to_contain_text("my name is Maria Lopez")
        if number == 1:
            expect(page.locator("pre.script")).to_contain_text("my ZIP code is 94110")
            check(page, f"call step ({size})")
            screenshot(page, f"visit-call-step-{size}")
        page.get_by_role("button", name=outcome).click()

    expect(page.get_by_role("heading", name="Thank you for calling")).to_be_visible()
    expect(page.locator(".call-results")).to_contain_text("Senator Adam B. Schiff (D-CA): The line was busy")
    check(page, f"calls done ({size})")
    page.get_by_role("button", name="Try the busy lines again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Senator Adam B. Schiff (D-CA)")
    expect(page.get_by_text("Call 2 of 5")).to_be_visible()
    page.get_by_role("button", name="I left a voicemail").click()
    expect(page.locator(".call-results")).to_contain_text("Senator Adam B. Schiff (D-CA): You left a voicemail.")
    expect(page.get_by_role("button", name="Try the busy lines again")).to_have_count(0)
    expect(page.locator(".next-step")).to_contain_text("made 5 of 5 calls")

    after = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert after["confirmed"] - before["confirmed"] == 4  # talked or voicemail; busy and skip count nothing
    assert after["handed_off"] - before["handed_off"] == 4


# ---- 4. the receipt and sharing --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_receipt_lists_the_visit_and_the_campaign_can_be_shared(new_page, size, supporter, live_server):
    page = open_page(new_page, size, permissions=["clipboard-read", "clipboard-write"])
    shared = []
    page.expose_function("recordShare", lambda data: shared.append(data))
    page.add_init_script("navigator.share = (data) => { window.recordShare(data); return Promise.resolve(); };")

    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Get the mail links").click()
    page.get_by_role("button", name="I sent it").click()
    page.goto(f"/c/{LAUNCH}/call?target=us-mission-un&target=general-dynamics-ceo")
    page.get_by_role("button", name="Start calling").click()
    page.get_by_role("button", name="Skip this office").click()  # Phebe Novakovic comes first in the campaign
    page.get_by_role("button", name="I talked to someone").click()
    page.locator(".next-step").get_by_role("link", name="See everything you did today").click()

    expect(page.get_by_role("heading", name="What you did today")).to_be_visible()
    items = page.locator(".receipt-item")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("From your mail app: you said you sent it.")
    expect(items.filter(has_text="US Mission")).to_contain_text("Phone call: you talked to someone.")
    expect(items.filter(has_text="Phebe Novakovic")).to_contain_text("Phone call: you skipped this office.")
    check(page, f"receipt ({size})")
    screenshot(page, f"visit-receipt-{size}")

    url = f"{live_server}/c/{LAUNCH}"
    page.get_by_role("button", name="Share…").click()
    wait_for(lambda: shared, what="the share sheet")
    assert shared[0]["url"] == url and shared[0]["title"] == "Reunite families separated at the border"
    copy = page.get_by_role("button", name="Copy the link")
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == url

    page.get_by_role("link", name="A poster with a QR code").click()
    qr = page.get_by_role("img", name=f"A QR code that opens {url}")
    expect(qr).to_be_visible()
    # Visible comes before loaded on a busy machine: wait for the image itself.
    wait_for(
        lambda: page.evaluate("(img) => img.complete && img.naturalWidth > 0", qr.element_handle()),
        what="the QR code's image to load",
    )
    check(page, f"poster ({size})")

    # "Not you?": forgetting the visit's details on a shared device; what was sent stays.
    page.goto(f"/c/{LAUNCH}/receipt")
    page.get_by_role("button", name="Forget my details now").click()
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    expect(page.get_by_label("Your name")).to_have_value("")


def test_the_campaign_page_carries_open_graph_and_twitter_tags(new_page, live_server):
    page = new_page()
    page.goto(f"/c/{LAUNCH}")

    def meta(selector: str) -> str:
        return page.locator(f"meta[{selector}]").get_attribute("content")

    assert meta('property="og:title"') == "Reunite families separated at the border"
    assert meta('property="og:url"') == f"{live_server}/c/{LAUNCH}"
    assert meta('property="og:description"').startswith("Children have been taken from their parents")
    assert meta('name="twitter:card"') == "summary"
    assert meta('name="twitter:title"') == "Reunite families separated at the border"
    check(page, "campaign page (desktop)")


# ---- 10. "Delete my data now" asks first ------------------------------------------------------------------------


def test_delete_my_data_now_asks_to_confirm(new_page, supporter):
    page = open_page(new_page, "phone")
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    page.get_by_label("Your name").fill(supporter["name"])
    page.get_by_label("Your email address").fill(supporter["email"])
    page.get_by_role("button", name="Preview my letter").click()
    page.get_by_role("button", name="Get the mail links").click()
    status_url = page.url
    yes = page.get_by_role("button", name="Yes, delete my data")
    expect(yes).to_be_hidden()
    page.get_by_text("Delete my data now").click()
    expect(yes).to_be_visible()
    check(page, "status page, asked to confirm the deletion (phone)")
    page.goto(status_url)
    expect(page.get_by_role("heading", name=re.compile("To UN Human Rights Office"))).to_be_visible()
    expect(page.locator("pre.letter-text")).to_have_count(1)  # one click deleted nothing
    page.get_by_text("Delete my data now").click()
    yes.click()
    expect(page.get_by_text("You deleted your details")).to_be_visible()


# ---- 1 and 6. no target without a channel, for every campaign; no sideways scrolling on the campaign page ----------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_no_target_is_offered_without_a_channel(new_page, slug, size):
    page = open_page(new_page, size)
    page.goto(f"/c/{slug}?zip=94110")
    check(page, f"campaign page {slug} with a ZIP ({size})")
    for card in page.locator("article.card.target, article.card.member:not(.vacant)").all():
        expect(card.locator("a.button").first).to_be_visible()
    page.goto(f"/c/{slug}/write?zip=94110")
    for choice in page.locator("fieldset:has(legend:text('Who do you want to write to?')) label.choice").all():
        expect(choice.locator("small").first).to_have_text(re.compile(r"^By \w"))
    page.goto(f"/c/{slug}/call?zip=94110")
    for choice in page.locator("label.choice").all():
        expect(choice.locator("small").first).to_have_text(re.compile(r"\d{3}.*\d{4}"))


@pytest.mark.parametrize("zip_code", ["99999", "01004"])
def test_a_zip_we_cannot_place_sends_the_supporter_to_the_house_by_a_link_that_fits_the_phone(new_page, zip_code):
    """An unknown ZIP (99999) and a PO box ZIP (01004: senators, no district) name the House's lookup page: a link
    to tap, and the page still fits the phone (the bare address once pushed it 75 px sideways)."""
    page = open_page(new_page, "phone")
    page.goto(f"/c/{LAUNCH}?zip={zip_code}")
    check(page, f"campaign page with ZIP {zip_code}")
    link = page.locator("#congress a[href='https://www.house.gov/representatives/find-your-representative']")
    expect(link).to_be_visible()
