"""The supporter's pages with CWC: the send step offers delivery into the members' offices where this site has it,
asks for the postal address there (started from what the supporter told us), keeps every word through a mistake,
and the status page says when each office has the letter, or what to do when one refused it."""

from __future__ import annotations

from tests.cwc.test_delivery import LETTER, PADILLA, PELOSI, SCHIFF, _finished
from tests.support.forms import form_fields
from tests.support.pages import SEND, WRITE, text_of

SUPPORTER = {
    "name": "Zoë O'Brien-Núñez",
    "email": "zoe.obrien@example.org",
    "zip": "94110",
    "note": "My family crossed this border.",
}


def _preview(client):
    page = client.get(f"{WRITE}?target={PADILLA}&target={SCHIFF}&target={PELOSI}&zip=94110")
    data = {**form_fields(page.get_data(as_text=True)), **{k: [v] for k, v in SUPPORTER.items()}}
    data.update(targets=[PADILLA, SCHIFF, PELOSI], template=[LETTER])
    written = client.post(WRITE, data=data)
    assert written.status_code == 303, text_of(written)
    return client.get(written.headers["Location"])


def test_the_send_step_offers_delivery_to_their_offices_and_asks_the_address_there(cwc_stack, cwc_server):
    cwc_server.reset()
    client = cwc_stack.app.test_client()
    preview = _preview(client)
    page = text_of(preview)
    assert "Deliver it to their offices" in page and "Deliver my letters" in page
    fields = form_fields(preview.get_data(as_text=True))
    # Started from what the supporter already told us: their name, ZIP code and state.
    assert fields["postal_first_name"] == ["Zoë"] and fields["postal_last_name"] == ["O'Brien-Núñez"]
    assert fields["postal_zip"] == ["94110"] and fields["postal_state"] == ["CA"]
    edited = fields["letters-2-body"][0].replace("Dear Representative Pelosi,", "Dear Speaker Emerita Pelosi,")
    fields["letters-2-body"] = [edited]
    fields["action"] = ["cwc"]
    missing = client.post(SEND, data=fields)
    assert missing.status_code == 422
    page = text_of(missing)
    assert "Please fix these 3 things to go on" in page
    assert 'href="#postal_prefix"' in page and 'href="#postal_street"' in page and 'href="#postal_city"' in page
    assert "Dear Speaker Emerita Pelosi," in page  # the edit survives the mistake
    again = form_fields(missing.get_data(as_text=True))
    again.update(postal_prefix=["Ms."], postal_street=['500 Valencia St "Rear" & Annex'], postal_city=["San Francisco"])
    again["action"] = ["cwc"]
    sent = client.post(SEND, data=again)
    assert sent.status_code == 303, text_of(sent)
    submission_id = sent.headers["Location"].rsplit("/s/", 1)[1]
    letters = _finished(cwc_stack.app, submission_id)
    assert all(letter.status == "sent" for letter in letters.values())
    assert letters[PELOSI].body.startswith("Dear Speaker Emerita Pelosi,")
    status = text_of(client.get(sent.headers["Location"]))
    assert status.count("Delivered to their office through Congress's own system.") == 3
    addresses = {received.text("Constituent/Address1") for received in cwc_server.received}
    assert addresses == {'500 Valencia St "Rear" & Annex'}


def test_a_refusal_shows_the_ways_out_on_the_status_page(cwc_stack, cwc_server):
    cwc_server.reset()
    cwc_server.refuse_office = lambda doc: (
        "Constituent address is not within the member's district."
        if doc.findtext("Recipient/MemberOffice") == "HCA11"
        else None
    )
    client = cwc_stack.app.test_client()
    fields = form_fields(_preview(client).get_data(as_text=True))
    fields.update(postal_prefix=["Mr."], postal_street=["1 Main St"], postal_city=["San Francisco"], action=["cwc"])
    sent = client.post(SEND, data=fields)
    letters = _finished(cwc_stack.app, sent.headers["Location"].rsplit("/s/", 1)[1])
    status = text_of(client.get(sent.headers["Location"]))
    refused = status.split(f'id="letter-{letters[PELOSI].id}"')[1].split("</section>")[0]
    assert "Not delivered." in refused and "because of the address you gave" in refused
    assert "Use their contact form" in refused and "Print and mail it" in refused
    assert f"/l/{letters[PELOSI].id}/address" in refused
    assert status.count("Delivered to their office through Congress's own system.") == 2


def test_without_the_settings_the_send_step_is_as_before(client):
    preview = _preview(client)
    page = text_of(preview)
    assert "Deliver it to their offices" not in page and 'name="postal_street"' not in page
    assert "Paste it into" in page and "Print and mail it" in page
