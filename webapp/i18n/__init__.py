"""Languages: which one a supporter reads (Accept-Language, then the switch, kept for the visit), the gettext
catalogs behind Flask-Babel, the messages the page script needs, and the names and dates every feature formats.

A layer below the features: views, services and templates use `gettext` / `lazy_gettext` from here or from
Flask-Babel directly; nothing here imports a feature. The organizer side stays English (its strings still go
through the catalog, so translating it later is only catalog work).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext, ngettext

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "gettext",
    "lazy_gettext",
    "ngettext",
    "current",
    "language_name",
    "letter_date",
    "safe_next",
]

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DEFAULT = "en"
# The languages supporter pages are written in, in the order the switch shows them; each is named in itself.
LANGUAGES = ("en", "es")
SESSION_KEY = "lang"
# Paths that stay English whatever the visitor reads: the organizer workspace and its API.
ENGLISH_ONLY = ("/organize", "/api/v1/organize")
# Where the page script's messages come from: the catalog entries extracted from these files.
SCRIPT_SOURCES = ("webapp/static/js/",)

babel = Babel()


def select_locale() -> str:
    """The visitor's language: the one they chose with the switch in this visit, else their browser's first
    language we have, else English. The organizer side is English for now."""
    if not has_request_context():
        return DEFAULT
    if english_only():
        return DEFAULT
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def english_only() -> bool:
    """Whether this page is on the side that stays English (the workspace, its API, their error pages): no switch."""
    return has_request_context() and request.path.startswith(ENGLISH_ONLY)


def current() -> str:
    """The language of the page being served (`en` outside a request)."""
    if not has_request_context():
        return DEFAULT
    return str(get_locale() or DEFAULT).split("_")[0]


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        current_language=current,
        supporter_languages=LANGUAGES,
        language_name=language_name,
        language_own_name=own_name,
        number=number,
        gettext_in=gettext_in,
        script_messages=script_messages,
        english_only=english_only,
    )
    from webapp.i18n import roles  # it imports this module: imported once the app is set up

    # Members' roles on pages, in the reader's language; letters and CWC keep Target.role's English.
    app.jinja_env.globals.update(member_with_role=roles.with_name, vacant_seat=roles.vacant)
    app.jinja_env.filters["letter_date"] = letter_date
    # What a ZIP code's lookup says, kept in English per ZIP code, in the reader's language (webapp/i18n/reasons.py).
    app.jinja_env.filters["lookup_notes"] = lambda text: _reasons().translate_sentences(text)
    app.jinja_env.filters["translated"] = lambda obj, field: obj.translated(field, current())
    app.jinja_env.filters["language_label"] = lambda code: language_name(code, DEFAULT)  # the workspace: English

    @app.after_request
    def _vary(response):
        # The same address answers in another language for another Accept-Language: caches must keep both.
        if not request.path.startswith("/static/"):
            response.vary.add("Accept-Language")
        if not response.headers.get("Content-Language") and response.mimetype == "text/html":
            response.headers["Content-Language"] = current()
        return response


def _reasons():
    from webapp.i18n import reasons  # the table imports this module: imported when first used

    return reasons


def choose(language: str) -> bool:
    """Keep `language` for the rest of the visit (the switch); False for one we don't have."""
    if language not in LANGUAGES:
        return False
    session[SESSION_KEY] = language
    return True


def safe_next(target: str | None, fallback: str) -> str:
    """Where a `next` (the switch's, the organizer log-in's) goes back to: a path on this site, else `fallback`.

    Only "/…", never "//…" (another host), nor a backslash or a control character: browsers read a backslash, or
    a slash, a tab and a slash, as "//" (another host), and a line break can't go in a header. Such a path has no
    scheme and no host, so nothing here parses it (urlsplit raises on "http://[::1", and a 500 is no answer).
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return fallback
    return target


@functools.cache
def _locale(code: str) -> Locale | None:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None


def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name as a sentence writes it, in the page's language by default ("español" on a Spanish page,
    "Spanish" on an English one); the code itself if Babel doesn't know it."""
    locale = _locale(code)
    if locale is None:
        return code
    return locale.get_display_name(in_language or current()) or code


def own_name(code: str) -> str:
    """A language named in itself, as a label: "English", "Español"."""
    name = language_name(code, code)
    return name[:1].upper() + name[1:]


def gettext_in(language: str, message: str, **values: Any) -> str:
    """A message in another language than the page's: the words of a letter (its date, "Re:") are in the letter's
    language, whatever the reader reads the page in. Extracted like gettext (keyword gettext_in:2)."""
    from flask_babel import force_locale

    if not has_request_context():
        return message % values if values else message
    with force_locale(language if language in LANGUAGES else DEFAULT):
        return gettext(message, **values)


def number(value: int | float) -> str:
    """A number as the page's language writes it ("12,345", "12.345"), inside a request or not."""
    return format_decimal(value, locale=current())


def letter_date(day: dt.date, language: str | None = None) -> str:
    """A date as a letter or an update shows it: "June 21, 2026", "21 de junio de 2026"."""
    return babel_format_date(day, format="long", locale=language or current())


def _script_catalog(language: str) -> dict[str, str]:
    """The page script's messages in `language`: the catalog's entries that come from the static scripts."""
    path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle)
    found: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not message.string:
            continue
        if any(str(filename).startswith(SCRIPT_SOURCES) for filename, _line in message.locations):
            key = message.id if isinstance(message.id, str) else message.id[0]
            found[key] = message.string if isinstance(message.string, str) else message.string[0]
    return found


_SCRIPT_CACHE: dict[str, dict[str, str]] = {}


def script_messages() -> dict[str, Any]:
    """What the page script shows, in the page's language, for a data attribute (the CSP allows no inline
    script). English pages carry nothing: the script's own text is English."""
    language = current()
    if language == DEFAULT:
        return {}
    if language not in _SCRIPT_CACHE or current_app.debug:
        _SCRIPT_CACHE[language] = _script_catalog(language)
    return _SCRIPT_CACHE[language]


def in_language(language: str):
    """Render something (a letter's date, a message stored for later) in another language than the page's."""
    from flask_babel import force_locale

    return force_locale(language)
