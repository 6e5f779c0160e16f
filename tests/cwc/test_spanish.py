"""Delivery into Congress's offices read in Spanish: the send step's address fields, each mistake and the seat check
in Spanish, and the status page saying so when each office has the letter."""

from __future__ import annotations

from tests.cwc.test_delivery import LETTER, PADILLA, PELOSI, SCHIFF, _finished
from tests.support.forms import form_fields
from tests.support.pages import SEND, WRITE
from tests.test_i18n_added_pages import _choose_spanish, text_of


def test_delivery_into_congress_offices_in_spanish(cwc_stack, cwc_server):
    cwc_server.reset()
    client = cwc_stack.app.test_client()
    _choose_spanish(client)
    page = client.get(f"{WRITE}?target={PADILLA}&target={SCHIFF}&target={PELOSI}&zip=94110")
    data = form_fields(page.get_data(as_text=True))
    data.update(
        targets=[PADILLA, SCHIFF, PELOSI],
        template=[LETTER],
        name=["Zoë Núñez"],
        email=["zoe.nunez@example.org"],
        zip=["94110"],
        note=["Mi familia cruzó esta frontera."],
    )
    written = client.post(WRITE, data=data)
    assert written.status_code == 303, text_of(written)
    preview = client.get(written.headers["Location"])
    page = text_of(preview)
    assert '<html lang="es"' in page
    assert "Entrégala en sus oficinas" in page and "Entregar mis cartas" in page
    assert "Tu dirección postal" in page and "Calle y número" in page and "Ciudad o pueblo" in page
    assert "Deliver it to their offices" not in page and "Street address" not in page
    # Each honorific read in Spanish; what Congress's system gets is the English one
    assert 'value="Ms.">Sra. (Ms.)</option>' in preview.get_data(as_text=True)

    fields = form_fields(preview.get_data(as_text=True))
    fields.update(action=["cwc"], postal_state=["NY"])  # no street, no city, and a state none of them represents
    refused = client.post(SEND, data=fields)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "Escribe tu calle y número, por favor." in page
    assert "Escribe tu ciudad o pueblo, por favor." in page
    assert "Elige cómo quieres que la oficina se dirija a ti" in page
    assert "Please enter" not in page and "Choose how" not in page

    again = form_fields(refused.get_data(as_text=True))
    again.update(
        action=["cwc"], postal_prefix=["Ms."], postal_street=["500 Valencia St"], postal_city=["San Francisco"]
    )
    outside = text_of(client.post(SEND, data=again))
    assert "y la dirección que nos diste está en" in outside and "Su oficina solo acepta cartas" in outside

    again.update(postal_state=["CA"])
    sent = client.post(SEND, data=again)
    assert sent.status_code == 303, text_of(sent)
    _finished(cwc_stack.app, sent.headers["Location"].rsplit("/s/", 1)[1])
    status = text_of(client.get(sent.headers["Location"]))
    assert status.count("Entregada en su oficina por el sistema del propio Congreso.") == 3
    assert "Delivered to their office" not in status
