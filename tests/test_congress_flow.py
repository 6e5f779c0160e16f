"""Writing to, calling and printing for the supporter's own members of Congress: pages, API, confirmations, totals."""

from __future__ import annotations

import html
import re

import pytest

from tests.support.forms import form_fields
from tests.support.letters import LAUNCH
from tests.support.pages import text_of

LETTER = "congress-reunite-and-investigate"
SCRIPT = "call-script"
PADILLA, SCHIFF, PELOSI = "P000145", "S001150", "P000197"
CRUZ, NORTON, HERNANDEZ = "C001098", "N000147", "H001103"


def submit(client, supporter, channel, targets, template=LETTER, **extra):
    return client.post(
        "/api/v1/submissions",
        json={
            "campaign": LAUNCH,
            "template": template,
            "targets": targets,
            "supporter": supporter,
            "channel": channel,
            **extra,
        },
    )


# ------------------------------------------------------------------ campaign page


def test_zip_shows_both_senators_and_the_representative(client):
    text = text_of(client.get(f"/c/{LAUNCH}?zip=94110"))
    for name in ("Senator Alex Padilla", "Senator Adam B. Schiff", "Representative Nancy Pelosi"):
        assert name in text
    assert "Democrat · CA · district 11" in text
    assert "Write one letter to all 3" in text
    assert (
        f"/c/{LAUNCH}/call?zip=94110&amp;target={PELOSI}" in html.escape(text, quote=False)
        or f"target={PELOSI}" in text
    )


def test_split_zip_shows_every_candidate_and_asks_to_pick(client):
    text = text_of(client.get(f"/c/{LAUNCH}?zip=10001"))
    assert "Your ZIP spans 2 districts — pick yours." in text
    assert "https://www.house.gov/representatives/find-your-representative" in text
    assert "Representative Daniel S. Goldman" in text and "Representative Jerrold Nadler" in text
    assert "(your senators; pick your representative below)" in text


def test_dc_has_a_delegate_and_no_senators(client):
    text = text_of(client.get(f"/c/{LAUNCH}?zip=20001"))
    assert "Delegate Eleanor Holmes Norton" in text
    assert "Senator" not in text.split('id="congress"')[1].split("</section>")[0].replace("senators", "")


def test_vacant_seat_says_vacant(client):
    text = text_of(client.get(f"/c/{LAUNCH}?zip=94541"))
    assert "Representative, CA-14: vacant" in text
    assert "This seat is vacant right now." in text


@pytest.mark.parametrize("zip_code,message", [("9411", "5-digit ZIP code"), ("00000", "")])
def test_bad_zip_is_explained(client, zip_code, message):
    response = client.get(f"/c/{LAUNCH}?zip={zip_code}")
    assert response.status_code == 200
    text = text_of(response)
    assert 'id="zip-error"' in response.get_data(as_text=True)
    assert message in text


# ------------------------------------------------------------------ API


def test_contact_form_hand_off_for_all_three(client, supporter):
    response = submit(client, supporter, "contact_form", [PADILLA, SCHIFF, PELOSI])
    assert response.status_code == 202, response.get_json()
    letters = response.get_json()["letters"]
    assert [letter["status"] for letter in letters] == ["handed_off"] * 3
    assert letters[0]["contact_url"].startswith("https://www.padilla.senate.gov")
    assert letters[2]["contact_url"].startswith("https://pelosi.house.gov")  # the website when no form is known
    bodies = [letter["body"] for letter in letters]
    assert bodies[0].startswith("Dear Senator Padilla,")
    assert bodies[1].startswith("Dear Senator Schiff,")
    assert bodies[2].startswith("Dear Representative Pelosi,")
    assert "ZIP code 94110" in bodies[0]


@pytest.mark.parametrize(
    "zip_code,target,greeting",
    [("20001", NORTON, "Dear Delegate Norton,"), ("00601", HERNANDEZ, "Dear Resident Commissioner Hernández Rivera,")],
)
def test_templates_address_delegates_by_role(client, supporter, zip_code, target, greeting):
    response = submit(client, {**supporter, "zip": zip_code}, "print", [target])
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["letters"][0]["body"].startswith(greeting)


def test_call_gives_the_script_and_the_phone(client, supporter):
    response = submit(client, {"name": "Maria Lopez", "zip": "94110"}, "call", [PELOSI], template=SCRIPT)
    assert response.status_code == 202, response.get_json()
    letter = response.get_json()["letters"][0]
    assert letter["status"] == "handed_off"
    assert letter["phone"] == "202-225-4965"
    assert letter["phone_url"] == "tel:+12022254965"
    assert "my name is Maria Lopez and my ZIP code is 94110" in letter["body"]
    assert "I ask that Representative Pelosi push for every separated family to be reunited" in letter["body"]
    assert letter["offices"] and all(office["phone_url"].startswith("tel:+1") for office in letter["offices"])
    assert letter["outcomes"] == ["called", "voicemail"]


def test_print_needs_an_address_and_gives_a_print_page(client, supporter):
    no_address = submit(client, {**supporter, "address": ""}, "print", [PADILLA])
    assert no_address.status_code == 422
    assert "supporter.address" in no_address.get_json()["errors"]
    response = submit(client, supporter, "print", [PADILLA])
    letter = response.get_json()["letters"][0]
    page = client.get(letter["print_url"].replace("http://outcry.test", "") + "?office=dc")
    assert page.status_code == 200
    text = text_of(page)
    assert "The Honorable Alex Padilla\nUnited States Senate\n" in text
    assert "Washington, DC 20510" in text
    assert "500 Valencia St" in text
    assert "Re: Reunite separated families" in text
    assert "@media print" in client.get("/static/css/print.css").get_data(as_text=True)


def test_print_page_can_address_a_district_office(client, supporter):
    letter = submit(client, supporter, "print", [PELOSI]).get_json()["letters"][0]
    path = letter["print_url"].replace("http://outcry.test", "")
    page = client.get(path).get_data(as_text=True)
    office = re.search(r'<option value="([^"]+)" selected>The ([^<]+) office \(nearest to you\)</option>', page)
    assert office, "the district office nearest the supporter is chosen by default"
    recipient = text_of(client.get(path)).split('class="recipient">')[1].split("</address>")[0]
    assert recipient.startswith("The Honorable Nancy Pelosi\n")
    assert "Washington" not in recipient
    assert "San Francisco, CA" in recipient
    assert (
        html.unescape(text_of(client.get(path))).count("the San Francisco, CA office is the nearest to your ZIP code")
        == 1
    )
    washington = text_of(client.get(f"{path}?office=dc")).split('class="recipient">')[1].split("</address>")[0]
    assert "Washington, DC" in washington


def test_senator_from_another_state_is_refused(client, supporter, app):
    response = submit(client, supporter, "contact_form", [PADILLA, CRUZ])
    assert response.status_code == 422
    message = response.get_json()["errors"]["targets"][0]
    assert "Senator Ted Cruz (TX) does not represent ZIP code 94110" in message


def test_representative_of_another_district_is_refused(client, supporter):
    response = submit(client, {**supporter, "zip": "94541"}, "contact_form", [PELOSI])
    assert response.status_code == 422


def test_split_zip_accepts_any_candidate(client, supporter):
    response = submit(client, {**supporter, "zip": "10001"}, "contact_form", ["N000002"])
    assert response.status_code == 202


@pytest.mark.parametrize("channel", ["smtp", "mailto"])
def test_email_channels_are_refused_for_legislators_with_the_reason(client, supporter, channel, mail_server):
    extra = {"smtp": mail_server.smtp_settings()} if channel == "smtp" else {}
    response = submit(client, supporter, channel, [PADILLA], **extra)
    assert response.status_code == 422
    assert "don't publish email addresses" in response.get_json()["errors"]["targets"][0]


def test_the_launch_letters_do_not_fit_congress(client, supporter):
    response = submit(client, supporter, "contact_form", [PADILLA], template="un-human-rights-office")
    assert response.status_code == 422


def test_confirm_is_recorded_once(client, supporter):
    letter = submit(client, {"name": "Maria Lopez", "zip": "94110"}, "call", [PADILLA], template=SCRIPT).get_json()[
        "letters"
    ][0]
    first = client.post(f"/api/v1/letters/{letter['id']}/confirm", json={"outcome": "called"})
    assert first.status_code == 200
    assert first.get_json() == {"id": letter["id"], "outcome": "called", "recorded": True}
    second = client.post(f"/api/v1/letters/{letter['id']}/confirm", json={"outcome": "voicemail"})
    assert second.get_json() == {"id": letter["id"], "outcome": "called", "recorded": False}
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert totals["totals"]["confirmed"] == 1
    assert totals["totals"]["handed_off"] == 1
    padilla = next(row for row in totals["targets"] if row["id"] == PADILLA)
    assert (padilla["handed_off"], padilla["confirmed"]) == (1, 1)


def test_confirm_errors(client, supporter):
    letter = submit(client, supporter, "contact_form", [PADILLA]).get_json()["letters"][0]
    assert client.post(f"/api/v1/letters/{letter['id']}/confirm", json={"outcome": "called"}).status_code == 422
    assert client.post(f"/api/v1/letters/{letter['id']}/confirm", json={"outcome": "maybe"}).status_code == 422
    assert client.post("/api/v1/letters/nope/confirm", json={"outcome": "sent"}).status_code == 404
    assert (
        client.post(f"/api/v1/letters/{letter['id']}/confirm", data="x", content_type="application/json").status_code
        == 400
    )


# ------------------------------------------------------------------ pages, end to end


def test_write_preview_and_contact_form_through_the_pages(client, supporter):
    page = client.get(f"/c/{LAUNCH}/write?zip=94110&target={PADILLA}&target={PELOSI}")
    text = page.get_data(as_text=True)
    assert "Senator Alex Padilla (D-CA)" in text and "Representative Nancy Pelosi (D-CA-11)" in text
    fields = form_fields(text)
    assert fields["targets"] == [PADILLA, PELOSI]
    assert fields["template"] == [LETTER]
    fields.update(
        name=[supporter["name"]], email=[supporter["email"]], address=[supporter["address"]], note=[supporter["note"]]
    )
    preview = client.post(f"/c/{LAUNCH}/write", data=fields, follow_redirects=True)
    assert preview.status_code == 200, text_of(preview)
    preview_text = text_of(preview)
    assert "Paste it into the contact page on their website" in preview_text  # Pelosi's form isn't known
    assert "Print and mail it" in preview_text
    assert "Send from my email" not in preview_text
    send = form_fields(preview.get_data(as_text=True))
    send["action"] = ["contact_form"]
    response = client.post(f"/c/{LAUNCH}/send", data=send)
    assert response.status_code == 303, text_of(response)
    status = client.get(response.headers["Location"])
    status_text = text_of(status)
    # Honest labels: "contact form" only where the data has one; Pelosi's link is her website's home page.
    assert "Open Alex Padilla's contact form" in status_text
    assert "Open Nancy Pelosi's website" in status_text and "Nancy Pelosi's contact form" not in status_text
    assert "Ready for you to paste into the contact page on their website." in status_text
    # A copy button for every field a contact form asks for.
    for label in ("Copy name", "Copy email", "Copy address", "Copy ZIP", "Copy subject", "Copy the letter"):
        assert status_text.count(f">{label}</button>") == 2, label
    confirm = form_fields(status.get_data(as_text=True))
    letter_id = re.search(r'action="/l/([0-9a-f]+)/confirm"', status.get_data(as_text=True)).group(1)
    done = client.post(f"/l/{letter_id}/confirm", data={"csrf_token": confirm["csrf_token"][0], "outcome": "sent"})
    assert done.status_code == 303
    assert "Thank you — noted: i sent it through the form." in text_of(client.get(done.headers["Location"]))


def test_call_page_through_the_pages(client):
    page = client.get(f"/c/{LAUNCH}/call?zip=94110&target={SCHIFF}")
    fields = form_fields(page.get_data(as_text=True))
    assert fields["targets"] == [SCHIFF]
    fields["name"] = ["Maria Lopez"]
    response = client.post(f"/c/{LAUNCH}/call", data=fields)
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"] == f"/c/{LAUNCH}/calls"
    text = text_of(client.get(response.headers["Location"]))
    assert "Call 1 of 1" in text
    assert 'href="tel:+12022243841"' in text
    assert "my name is Maria Lopez and my ZIP code is 94110" in text
    for outcome in ("I talked to someone", "I left a voicemail", "Busy or no answer", "Skip this office"):
        assert outcome in text


def test_call_for_someone_outside_the_zip_is_refused(client):
    page = client.get(f"/c/{LAUNCH}/call?zip=94110")
    fields = form_fields(page.get_data(as_text=True))
    assert set(fields["targets"]) >= {PADILLA, SCHIFF, PELOSI, "us-mission-un", "general-dynamics-ceo"}
    fields.update(name=["Maria Lopez"], targets=[CRUZ])
    response = client.post(f"/c/{LAUNCH}/call", data=fields)
    assert response.status_code == 422


def test_campaign_page_lists_the_members_written_to_most(client, supporter):
    for _ in range(2):
        submit(client, supporter, "contact_form", [PELOSI])
    submit(client, supporter, "contact_form", [PADILLA])
    text = text_of(client.get(f"/c/{LAUNCH}"))
    most = text.split("Members of Congress written to most")[1]
    assert most.index("Nancy Pelosi") < most.index("Alex Padilla")


def totals_row(output: str, label: str) -> dict[str, int]:
    """One row of `flask totals`' table (labels take 40 columns, then a number per header column)."""
    lines = output.splitlines()
    header = lines[1].split()
    row = next(line for line in lines if line.startswith(label))
    return dict(zip(header, (int(value) for value in row[40:].split()), strict=True))


def test_totals_command_shows_confirmed(client, supporter, runner):
    letter = submit(client, supporter, "print", [PADILLA]).get_json()["letters"][0]
    before = totals_row(runner.invoke(args=["totals", LAUNCH]).output, "Alex Padilla")
    assert (before["handed_off"], before["confirmed"]) == (1, 0)
    client.post(f"/api/v1/letters/{letter['id']}/confirm", json={"outcome": "sent"})
    after = totals_row(runner.invoke(args=["totals", LAUNCH]).output, "Alex Padilla")
    assert (after["handed_off"], after["confirmed"]) == (1, 1)  # the confirmation is counted, in its column


# ------------------------------------------------------------------ in Spanish


def test_a_spanish_reader_reads_members_roles_in_spanish_and_the_letters_keep_congress_english(client, supporter):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    text = text_of(client.get(f"/c/{LAUNCH}?zip=94110"))
    assert "Alex Padilla, del Senado" in text and "Nancy Pelosi, de la Cámara de Representantes" in text
    assert "Senator Alex Padilla" not in text and "Representative Nancy Pelosi" not in text
    assert "Eleanor Holmes Norton, miembro sin voto de la Cámara de Representantes" in text_of(
        client.get(f"/c/{LAUNCH}?zip=20001")
    )
    assert "Escaño de la Cámara de Representantes por CA-14: vacante" in text_of(client.get(f"/c/{LAUNCH}?zip=94541"))
    embed = text_of(client.get(f"/c/{LAUNCH}/embed?zip=94110"))
    assert "Alex Padilla, del Senado" in embed and "Senator Alex Padilla" not in embed
    write = text_of(client.get(f"/c/{LAUNCH}/write?zip=94110&target={PADILLA}&target={PELOSI}"))
    assert (
        "Alex Padilla, del Senado (D-CA)" in write and "Nancy Pelosi, de la Cámara de Representantes (D-CA-11)" in write
    )
    letters = submit(client, supporter, "contact_form", [PADILLA, PELOSI]).get_json()["letters"]
    assert letters[0]["body"].startswith("Dear Senator Padilla,")  # Congress reads the English forms
    assert letters[1]["body"].startswith("Dear Representative Pelosi,")
