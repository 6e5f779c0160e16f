"""The supporter's whole visit in Spanish, in Chromium at phone size: chosen by the browser's language (Accept-Language)
and by the switch, kept for the visit; letters read in Spanish and sent in the language the supporter chooses (a
member of Congress gets English unless they choose Spanish, the UN office reads Spanish); calls with the guidance in
Spanish and the words to say in the office's language; a Spanish letter delivered through the real SMTP server."""

from __future__ import annotations

import re
import shutil

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_visit import SIZES, check
from tests.conftest import PROJECT
from tests.support.letters import LAUNCH
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.waiting import wait_for

PHONE = SIZES["phone"]
SCREENSHOTS = PROJECT / "docs" / "screenshots"


def spanish_phone(new_page):
    return new_page(**PHONE, locale="es-MX")


def keep_screenshot(page, name: str) -> None:
    """A screenshot for the README: saved with the run's others, and copied to docs/screenshots when
    OUTCRY_SCREENSHOTS=update (so an ordinary run never rewrites the committed pictures)."""
    import os

    path = screenshot(page, name)
    if os.environ.get("OUTCRY_SCREENSHOTS") == "update":
        shutil.copy(path, SCREENSHOTS / path.name)


def test_a_spanish_reader_writes_to_the_un_and_the_letter_arrives_in_spanish(new_page, mail_server):
    page = spanish_phone(new_page)
    page.goto(f"/c/{LAUNCH}")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Actúa ahora")).to_be_visible()
    expect(page.get_by_role("button", name="English")).to_be_visible()  # the switch, named in its own language
    expect(page.locator(".update").first).to_contain_text(re.compile(r"Novedad, \d+ de \w+ de \d{4}:"))
    check(page, "campaign page in Spanish (phone)")
    keep_screenshot(page, "es-campaign-phone")

    page.get_by_role("link", name="Escribir: Pedir a la ONU que defienda a los niños separados").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Escribe tu carta")
    # A mistake: the summary and the field's own message, in Spanish
    page.get_by_label("Tu dirección de correo").fill("maria@")
    page.get_by_role("button", name="Ver mi carta").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Corrige estas 2 cosas para seguir:")
    expect(summary).to_contain_text("Escribe tu nombre, por favor.")
    expect(summary).to_contain_text("Esa dirección de correo no parece correcta")
    assert page.title().startswith("Error: ")
    check(page, "write page with errors in Spanish (phone)")
    keep_screenshot(page, "es-errors-phone")

    page.get_by_label("Tu nombre").fill("María José Núñez")
    page.get_by_label("Tu dirección de correo").fill(USERNAME)
    page.get_by_label("Con tus propias palabras (opcional)").fill(
        "Mi abuela cruzó esta frontera con mi mamá en brazos."
    )
    page.get_by_role("button", name="Ver mi carta").click()

    # The UN office reads Spanish, so the letter goes in Spanish; English is one button away
    expect(page.get_by_text("Se enviará en español.")).to_be_visible()
    expect(page.get_by_role("button", name="Enviarla en inglés")).to_be_visible()
    body = page.locator("textarea[name$='-body']").first
    expect(body).to_have_value(re.compile(r"^Señoras y señores:"))
    expect(page.locator("[data-meter-text]").first).to_contain_text("está en tus propias palabras")
    check(page, "preview in Spanish (phone)")
    keep_screenshot(page, "es-preview-phone")

    page.get_by_label("Tu proveedor de correo").select_option("other")
    page.get_by_label("Servidor de correo saliente (SMTP)").fill(mail_server.host)
    page.get_by_label("Puerto").fill(str(mail_server.port))
    page.get_by_label("Contraseña o contraseña de aplicación").fill(PASSWORD)
    # Test my settings answers in place, in Spanish, and the password stays typed
    page.get_by_role("button", name="Probar mi configuración").click()
    expect(page.locator("#settings-check")).to_have_text(
        re.compile(r"^Tu configuración funciona: iniciamos sesión en .* No se envió nada\.$")
    )
    expect(page.get_by_label("Contraseña o contraseña de aplicación")).to_have_value(PASSWORD)
    page.get_by_role("button", name="Enviar desde mi correo").click()
    # The page script's status text comes from the Spanish catalog too
    expect(page.locator('[data-field="status"]')).to_have_text("Enviada desde tu cuenta de correo.", timeout=30_000)
    check(page, "status in Spanish (phone)")
    keep_screenshot(page, "es-sent-phone")

    received = wait_for(lambda: list(mail_server.received), what="the Spanish letter")
    message = received[-1].message
    assert str(message["Subject"]) == "Niños separados de sus padres en la frontera de Estados Unidos"
    text = message.get_content()
    assert text.startswith("Señoras y señores:")
    assert "Mi abuela cruzó esta frontera con mi mamá en brazos." in text
    assert text.rstrip().endswith("María José Núñez")


def test_congress_gets_english_unless_the_supporter_chooses_spanish(new_page):
    page = spanish_phone(new_page)
    page.goto(f"/c/{LAUNCH}?zip=94110#congress")
    page.get_by_role("link", name="Escribe una carta a los 3").click()
    page.get_by_label("Tu nombre").fill("Ana Torres")
    page.get_by_label("Tu dirección de correo").fill("ana@example.org")
    page.get_by_role("button", name="Ver mi carta").click()

    expect(page.get_by_text("Se enviará en inglés.")).to_be_visible()
    body = page.locator("textarea[name$='-body']").first
    expect(body).to_have_value(re.compile(r"^Dear Senator"))
    readable = page.locator("details.in-your-language").first
    readable.locator("summary").click()
    expect(readable).to_contain_text("Honorable Alex Padilla:")  # to read, in Spanish, beside the English one
    check(page, "Congress preview in Spanish, letter in English (phone)")
    keep_screenshot(page, "es-congress-english-letter-phone")

    body.fill(body.input_value().replace("Sincerely,", "MY ENGLISH EDIT\n\nSincerely,"))
    page.get_by_role("button", name="Enviarla en español").click()
    expect(page.get_by_text("Se enviará en español.")).to_be_visible()
    expect(page.get_by_text("Puede que la oficina a la que escribes no lea en español")).to_be_visible()
    expect(page.locator("textarea[name$='-body']").first).to_have_value(re.compile(r"^Honorable Alex Padilla:"))
    page.get_by_role("button", name="Enviarla en inglés").click()  # the English edit was kept for English
    expect(page.locator("textarea[name$='-body']").first).to_have_value(re.compile("MY ENGLISH EDIT"))


def test_call_guidance_is_in_spanish_and_the_words_in_the_offices_language(new_page):
    page = spanish_phone(new_page)
    page.goto(f"/c/{LAUNCH}/call?zip=94110")
    expect(page.get_by_role("heading", level=1)).to_have_text("Haz las llamadas")
    page.get_by_label("Tu nombre").fill("Ana Torres")
    page.get_by_role("button", name="Empezar a llamar").click()
    expect(page.get_by_text("Llamada 1 de 5")).to_be_visible()
    expect(page.get_by_text("La oficina trabaja en inglés, así que lo que vas a decir está en inglés.")).to_be_visible()
    script = page.locator("pre.script")
    expect(script).to_contain_text("Hello, my name is Ana Torres and my ZIP code is 94110.")
    assert script.get_attribute("lang") == "en"
    meaning = page.locator("details.in-your-language")
    meaning.locator("summary").click()
    expect(meaning).to_contain_text("Hola, me llamo Ana Torres y mi código postal es el 94110.")
    check(page, "call step in Spanish (phone)")
    keep_screenshot(page, "es-call-step-phone")
    page.get_by_role("button", name="Hablé con alguien").click()
    expect(page.get_by_text("Llamada 2 de 5")).to_be_visible()


def test_the_switch_changes_the_language_for_the_rest_of_the_visit(new_page):
    page = new_page(**PHONE, locale="en-US")
    page.goto(f"/c/{LAUNCH}/write?target=ohchr")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Your name").fill("Sam Lee")  # what was typed before switching is typed again after: a GET
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_url(re.compile(r"/write\?target=ohchr$"))  # the same page, now in Spanish
    expect(page.get_by_role("heading", level=1)).to_have_text("Escribe tu carta")
    page.goto(f"/c/{LAUNCH}")  # kept for the visit, whatever the browser asks for
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check(page, "campaign page after the switch (phone)")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Take action")).to_be_visible()


def test_switching_language_midway_keeps_what_was_typed(new_page):
    """A supporter who switches to Spanish halfway through the letter keeps everything they typed (the switch posts a
    form of its own, so before, the page came back empty), and so does one who edited the letter on the preview."""
    page = new_page(**PHONE)
    page.goto(f"/c/{LAUNCH}")
    page.get_by_role("link", name="Write: Ask the UN to speak up for separated children").click()
    note = "Mi abuela cruzó esta frontera en 1962 y nunca olvidó el miedo de perder a sus hijos. " * 70
    page.get_by_label("Your name").fill("María José Peña")
    page.get_by_label("Your email address").fill(USERNAME)
    page.get_by_label("Postal address (optional)").fill("123 Calle Ñandú\nSan Antonio, TX 78201")
    page.get_by_label("In your own words (optional)").fill(note)  # pasted, past the 5,000-character limit
    page.get_by_role("button", name="Español").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Escribe tu carta")
    expect(page.get_by_label("Tu nombre")).to_have_value("María José Peña")
    expect(page.get_by_label("Tu dirección de correo")).to_have_value(USERNAME)
    expect(page.get_by_label("Dirección postal (opcional)")).to_have_value("123 Calle Ñandú\nSan Antonio, TX 78201")
    expect(page.get_by_label("Con tus propias palabras (opcional)")).to_have_value(note)
    expect(page.locator("[data-counter-for='note']")).to_contain_text("recorta")  # the counter follows, in Spanish
    assert page.evaluate("sessionStorage.length") == 0  # read once, then gone
    page.get_by_label("Con tus propias palabras (opcional)").fill(note[:300])
    page.get_by_role("button", name="Ver mi carta").click()

    body = page.locator("textarea[name$='-body']").first
    edited = body.input_value() + "\n\nP.D. ¡Reúnan a las familias ya!"
    body.fill(edited)
    page.get_by_label("Tu proveedor de correo").select_option("other")
    page.get_by_label("Contraseña o contraseña de aplicación").fill("never carried")
    page.get_by_role("button", name="English", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check and edit your letter")
    expect(page.locator("textarea[name$='-body']").first).to_have_value(edited)
    expect(page.get_by_label("Your email provider")).to_have_value("other")
    expect(page.get_by_label("Password or app password")).to_have_value("")  # a password is never carried
    check(page, "preview after switching language with an edited letter (phone)")
