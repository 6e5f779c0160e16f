"""Languages: the catalogs are complete and current, every supporter template string is marked, and a visitor reads
the site in their language (Accept-Language, the switch, kept for the visit, <html lang>, dates and numbers)."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment
from jinja2.ext import i18n as jinja_i18n

from tests.conftest import csrf_token
from webapp import i18n

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "webapp" / "translations"
KEYWORDS = {
    "_": None,
    "_l": None,
    "N_": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "gettext_in": (2,),
}
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT]


def _extracted() -> set[str]:
    """What `make translations-extract` would find in the code today."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_in_the_code_is_in_the_catalog(language):
    """A string marked in the code but missing from the catalog would show in English: run `make translations`."""
    catalog = _catalog(language)
    missing = sorted(message for message in _extracted() if message not in catalog)
    assert not missing, f"not in {language}/messages.po (run `make translations`, then translate): {missing[:20]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_in_the_catalog_is_translated_and_not_fuzzy(language):
    catalog = _catalog(language)
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"untranslated in {language}: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy (changed in English since it was translated) in {language}: {fuzzy[:20]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_survive_translation(language):
    """A translation that drops or misspells %(name)s would crash or lose the value when the page renders."""
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]|\{\w+\}", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)[sd]|\{\w+\}", string)) <= wanted | {"%(num)d"}, (message.id, string)
            assert wanted - {"%(num)d"} <= set(re.findall(r"%\(\w+\)[sd]|\{\w+\}", string)), (message.id, string)


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalog_matches_its_source(language):
    """The .mo files are committed (a clean clone runs without compiling); they must say what the .po says."""

    def flat(catalog):
        return {
            tuple(m.id) if isinstance(m.id, list | tuple) else m.id: tuple(m.string)
            if isinstance(m.string, list | tuple)
            else m.string
            for m in catalog
            if m.id and not m.fuzzy
        }

    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = flat(read_mo(handle))
    source = flat(_catalog(language))
    assert compiled == source, "run `make translations-compile`"


# ---- unmarked text in supporter templates ----------------------------------------------------------------------

SUPPORTER_TEMPLATES = sorted(
    path
    for path in (ROOT / "webapp" / "templates").rglob("*.html")
    if "organize" not in path.relative_to(ROOT / "webapp" / "templates").parts
)
# Attributes a person reads or hears.
READ_ATTRIBUTES = re.compile(r"""\b(?:placeholder|title|alt|aria-label)\s*=\s*"([^"\x00]*)\"""")
# Text that is the same in every language: the product's name, symbols, punctuation.
SAME_EVERYWHERE = {"Outcry", "QR", "Gmail", "Outlook"}


def _visible_text(source: str) -> list[str]:
    """Words in a template's own text (outside {{ }}, {% %} and tags), and in attributes people read."""
    env = Environment(extensions=[jinja_i18n])
    pieces = []
    in_trans = False
    for _line, kind, value in env.lex(source):
        if kind == "name" and value in ("trans", "pluralize"):
            in_trans = True
        elif kind == "name" and value == "endtrans":
            in_trans = False
        if kind == "data" and not in_trans:
            pieces.append(value)
        elif kind in ("variable_begin", "block_begin"):
            pieces.append("\x00")  # an expression or a tag: no words of the template's own
    text = re.sub(r"<!--.*?-->", " ", "".join(pieces), flags=re.S)
    found = READ_ATTRIBUTES.findall(text)
    text = re.sub(r"<[^>]*>", " ", text)
    found.append(re.sub(r"&[a-z]+;|&#\d+;", " ", text))
    words = []
    for chunk in found:
        for word in re.findall(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’]+", chunk):
            if word not in SAME_EVERYWHERE:
                words.append(word)
    return words


@pytest.mark.parametrize(
    "path", SUPPORTER_TEMPLATES, ids=lambda path: str(path.relative_to(ROOT / "webapp" / "templates"))
)
def test_supporter_template_text_is_marked_for_translation(path):
    words = _visible_text(path.read_text(encoding="utf-8"))
    assert not words, f"{path.name}: text not marked for translation (wrap it in {{{{ _('…') }}}}): {words[:15]}"


def test_the_check_finds_unmarked_text():
    """The check above must be able to fail."""
    assert _visible_text('<p class="x">Send it</p>') == ["Send", "it"]
    assert _visible_text('<input placeholder="Your name">') == ["Your", "name"]
    assert _visible_text("<p>{{ _('Send it') }}</p>") == []
    assert _visible_text("<p>{% trans %}Send {{ n }} letters{% endtrans %}</p>") == []
    assert _visible_text('<p>{{ x }} · Outcry</p><a href="{{ url }}">{{ _("Go") }}</a>') == []


# ---- the visitor's language ----------------------------------------------------------------------------------


def test_accept_language_chooses_spanish_and_html_lang_says_so(client):
    page = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    html = page.get_data(as_text=True)
    assert '<html lang="es"' in html
    assert "Outcry envía las cartas" in html
    assert page.headers["Content-Language"] == "es"
    assert "Accept-Language" in page.headers["Vary"]


def test_english_is_the_default_and_unknown_languages_fall_back(client):
    for header in ({}, {"Accept-Language": "de-DE,fr;q=0.8"}):
        html = client.get("/", headers=header).get_data(as_text=True)
        assert '<html lang="en"' in html
        assert "Outcry sends letters" in html


def test_the_switch_is_kept_for_the_visit_and_goes_back(client):
    page = client.get("/c/reunite-families?x=1", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert 'value="es"' in html and ">Español<" in html  # the switch, named in its own language
    answer = client.post(
        "/language", data={"csrf_token": csrf_token(html), "language": "es", "next": "/c/reunite-families?x=1"}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/c/reunite-families?x=1"
    # Kept for the visit, whatever the browser says
    html = client.get("/c/reunite-families", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="es"' in html and ">English<" in html


def test_the_switch_goes_back_only_to_this_site(client):
    html = client.get("/").get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        answer = client.post("/language", data={"csrf_token": csrf_token(html), "language": "es", "next": target})
        assert answer.status_code == 303 and answer.headers["Location"] == "/", target


@pytest.mark.parametrize(
    "target",
    [
        "http://[::1",
        "//[::1",
        "http://[",
        "/x\r\nSet-Cookie: a=b",
        "/\t/evil.example",
        "/\x00",
        "/x\x7f",
        "https://[::1]:99999/",
    ],
)
def test_the_switch_goes_back_home_from_a_next_it_cannot_read(client, target):
    """A `next` no page of ours would send (a broken IPv6 host, a line break, a tab browsers drop, a NUL) goes to the
    home page, never a 500 nor another site."""
    html = client.get("/").get_data(as_text=True)
    answer = client.post("/language", data={"csrf_token": csrf_token(html), "language": "es", "next": target})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_the_switch_refuses_a_language_we_dont_have(client):
    html = client.get("/").get_data(as_text=True)
    answer = client.post("/language", data={"csrf_token": csrf_token(html), "language": "xx", "next": "/"})
    assert answer.status_code == 400
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_the_organizer_side_stays_english(client):
    html = client.get("/organize/login", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en"' in html
    # No switch on that side, its error pages included (a draft's 404 must read exactly like a missing campaign's)
    assert 'class="language-switch"' not in html
    # (Logged out, a campaign's address is a redirect to the log-in: an address no route takes is the error page.)
    missing = client.get("/organize/no-such-page", headers={"Accept-Language": "es"})
    assert missing.status_code == 404 and 'class="language-switch"' not in missing.get_data(as_text=True)
    assert '<html lang="en"' in missing.get_data(as_text=True)
    assert 'class="language-switch"' in client.get("/").get_data(as_text=True)


def test_error_pages_and_json_errors_speak_spanish(client):
    page = client.get("/c/no-such-campaign", headers={"Accept-Language": "es"})
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "No encontramos esa página" in html and '<html lang="es"' in html
    answer = client.get("/api/v1/campaigns/no-such-campaign", headers={"Accept-Language": "es"})
    assert answer.status_code == 404


def test_dates_and_numbers_follow_the_language(app):
    day = dt.date(2026, 6, 21)
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert i18n.letter_date(day) == "21 de junio de 2026"
        from flask_babel import format_decimal

        assert format_decimal(12345) == "12.345"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.letter_date(day) == "June 21, 2026"


def test_script_messages_come_from_the_catalog(app):
    with app.test_request_context(headers={"Accept-Language": "es"}):
        messages = i18n.script_messages()
    assert messages and all(isinstance(v, str) and v for v in messages.values())
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.script_messages() == {}


def test_the_catalogs_read_back(tmp_path):
    """A syntax error in a .po file would make every Spanish page English without a word."""
    for language in TRANSLATED:
        buffer = io.BytesIO((TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").read_bytes())
        assert len(read_po(buffer)) > 40
