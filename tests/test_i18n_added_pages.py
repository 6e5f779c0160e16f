"""Pages other features added since the catalogs began, read in Spanish: Test my settings (its answer and its
script's messages) and the embeddable campaign card (tests/cwc/test_spanish.py: delivery into Congress's offices).
What a Spanish reader sees, not only that the strings are marked."""

from __future__ import annotations

import html
import json
import re

from tests.conftest import csrf_token
from tests.mailauth.test_settings_check import JSON, SEND, send_form
from tests.support import pages
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH
from tests.support.pages import preview

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}


def text_of(response) -> str:
    """The page as read: the script's message table (<html data-messages>, keyed by the English) left out."""
    return html.unescape(re.sub(r' data-messages="[^"]*"', "", response.get_data(as_text=True)))


def _choose_spanish(client) -> None:
    """The switch at the top of every page: Spanish for the rest of the visit, whatever the browser says."""
    page = client.get("/")
    answer = client.post("/language", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "language": "es"})
    assert answer.status_code == 303


def test_test_my_settings_answers_in_spanish(app, client, supporter, mail_server):
    _choose_spanish(client)
    answer = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON)
    assert answer.status_code == 200
    assert answer.get_json()["message"] == (
        f"Tu configuración funciona: iniciamos sesión en {mail_server.host} como supporter@example.org por una "
        "conexión cifrada y luego colgamos. No se envió nada."
    )
    # What went wrong, in Spanish too: the mail server's refusal, and a server Outcry won't connect to.
    wrong = client.post(SEND, data=send_form(client, supporter, mail_server, smtp_password="not it"), headers=JSON)
    assert wrong.get_json()["message"].startswith(
        "Tu servidor de correo no aceptó el nombre de usuario o la contraseña. Revísalos"
    )
    refused = client.post(SEND, data=send_form(client, supporter, mail_server, smtp_port="8080"), headers=JSON)
    assert "Outcry no puede usar" in refused.get_json()["message"]
    assert "los puertos 25, 465, 587 o 2525" in refused.get_json()["message"]
    # The page's script shows its own messages in Spanish too (from <html data-messages>).
    page = client.get(f"/c/{LAUNCH}/write?target=ohchr").get_data(as_text=True)
    messages = json.loads(html.unescape(re.search(r' data-messages="([^"]*)"', page)[1]))
    assert messages["Signing in to your mail server…"] == "Iniciando sesión en tu servidor de correo…"


def test_the_embedded_card_follows_the_readers_language(client):
    page = text_of(client.get(f"/c/{LAUNCH}/embed?zip=94110", headers=SPANISH))
    assert '<html lang="es"' in page
    assert "Que reúnan a las familias separadas en la frontera" in page  # the campaign's own words, in Spanish
    assert (
        "Cartas y llamadas que han salido hasta ahora" in page
        and "Tu código postal" in page
        and "Toda la campaña" in page
    )
    assert "Novedad, " in page and " de 20" in page  # the update dated as Spanish writes it
    assert "Letters and calls that went out" not in page and "Update, " not in page
    english = text_of(client.get(f"/c/{LAUNCH}/embed"))
    assert '<html lang="en"' in english and "Letters and calls that went out so far" in english


def test_a_paused_mail_server_answers_a_test_in_spanish_without_promising_a_retry(
    app, client, supporter, mail_server, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    _choose_spanish(client)
    for _ in range(2):
        client.post(SEND, data=send_form(client, supporter, mail_server, smtp_password="guess"), headers=JSON)
    message = client.post(SEND, data=send_form(client, supporter, mail_server), headers=JSON).get_json()["message"]
    assert message.startswith(f"Hace poco fallaron demasiados inicios de sesión en {mail_server.host}")
    assert message.endswith(
        "No se envió nada. Revisa el nombre del servidor y el puerto, o vuelve a probar en unos minutos."
    )
    assert "lo volveremos a intentar" not in message  # a test is not tried again


def test_the_privacy_notice_on_the_preview_and_the_status_page_is_in_spanish(client, supporter):
    """What is kept and for how long, told before sending and on the status page, in the visit's language."""
    _choose_spanish(client)
    response = preview(client, supporter)
    page = text_of(response)
    assert "Enviar" in page  # the page itself is in Spanish
    fields = form_fields(response.get_data(as_text=True))
    fields["action"] = ["mailto"]
    status = text_of(client.get(client.post(SEND, data=fields).headers["Location"]))
    for text in (page, status):
        assert "We keep your name" not in text and "never store your IP address" not in text
        assert "Guardamos tu nombre" in text and "30 días" in text


def test_members_of_congress_found_by_zip_show_their_party_in_spanish(client):
    """A Spanish reader who looks up their ZIP code saw "Republican · TX" and "Democrat · TX" among Spanish words."""
    page = text_of(client.get(f"/c/{LAUNCH}?zip=78201", headers=SPANISH))
    assert "John Cornyn, del Senado" in page
    assert "Partido Republicano · TX" in page and "Partido Demócrata · TX · distrito 20" in page
    assert "Republican ·" not in page and "Democrat ·" not in page
    english = text_of(client.get(f"/c/{LAUNCH}?zip=78201"))
    assert "Republican · TX" in english and "Democrat · TX · district 20" in english


def language_next(page: str) -> str:
    """Where the language switch at the top of the page leads back to."""
    return html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))


def test_switching_language_on_the_preview_a_post_answered_leads_back_to_the_preview(client, supporter):
    """The preview with a problem is answered by POST /send: its language switch led to a GET of that POST-only
    address, a 405 error page, in the middle of sending a letter."""
    shown = preview(client, supporter)
    draft_url = shown.request.path
    fields = pages.send_form(shown)
    fields.update(action=["smtp"], provider=["other"], smtp_host=[""], smtp_password=[""])
    problem = client.post(pages.SEND, data=fields)
    assert problem.status_code == 422
    page = problem.get_data(as_text=True)
    assert language_next(page) == draft_url
    switched = client.post("/language", data={"csrf_token": csrf_token(page), "language": "es", "next": draft_url})
    assert switched.status_code == 303 and switched.headers["Location"] == draft_url
    assert "Revisa y edita tu carta" in text_of(client.get(draft_url))
