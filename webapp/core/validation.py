"""Field rules for supporter input, shared by the HTML form and the JSON API, and the rule for a link (is_link)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from webapp import i18n
from webapp.core.invalid import Invalid
from webapp.i18n import current as current_language
from webapp.i18n import gettext

NAME_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 500
NOTE_MAX = 5000
SUBJECT_MAX = 200
BODY_MAX = 20000
# The most letters one send writes: one per target named (the API's `targets`, the preview's letters).
LETTERS_MAX = 20
# The most bytes a character takes on the wire: four of UTF-8, each written %XX in a form (a JSON escape of one
# outside the BMP, a surrogate pair of \uXXXX, is twelve too).
WIRE_BYTES_PER_CHARACTER = 12
# Field names, the CSRF token, hidden fields, the chosen targets, the mail account and the postal address.
REQUEST_OVERHEAD = 64 * 1024
# The largest request a supporter's letter can legitimately make (MAX_CONTENT_LENGTH): every field at its cap, in
# the widest characters, with a letter to each of LETTERS_MAX targets. A letter pasted past its cap into a smaller
# send still fits, so it is told how much to cut rather than refused whole (about 4.8 MB).
REQUEST_MAX = (
    NAME_MAX + EMAIL_MAX + ADDRESS_MAX + NOTE_MAX + LETTERS_MAX * (SUBJECT_MAX + BODY_MAX)
) * WIRE_BYTES_PER_CHARACTER + REQUEST_OVERHEAD

ZIP_PATTERN = re.compile(r"^([0-9]{5})(?:-?([0-9]{4}))?$")
# The start of an RFC 2047 encoded word (`=?charset?q?…?=`). Header text never contains it at all: Python's
# email package decodes even `=? utf-8 ?q?…?=` (whitespace inside) while writing a header, which let a
# spoofed From name or a rewritten subject through a stricter pattern (CVE-2024-6923 and its cousins).
ENCODED_WORD_START = "=?"
# Characters that may not appear in one line of text: controls (NUL included), format characters (bidi
# overrides among them), line and paragraph separators, surrogates, private-use and unassigned code points.
_NOT_IN_A_LINE = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


class FieldError(Invalid):
    """A value a supporter typed that cannot be used; the message says why in plain words. `field` is left empty
    by the rules here, which don't know where the value was typed; the caller puts the message under its field."""

    def __init__(self, message: str, field: str = ""):
        super().__init__({field: [message]})
        self.args = (message,)  # str() is the message alone, as the rules' callers show it beside their field


def single_line(value: str, what: str, limit: int) -> str:
    """One line of text (a title, a name): no line breaks, no control or invisible formatting characters."""
    value = value.strip()
    if len(value) > limit:
        raise FieldError(gettext("%(what)s must be at most %(limit)s characters.", what=what, limit=limit))
    if any(unicodedata.category(char) in _NOT_IN_A_LINE for char in value):
        raise FieldError(gettext("%(what)s must be a single line without control characters.", what=what))
    return value


def header_text(value: str, what: str, limit: int) -> str:
    """Text that will become part of a mail header: one line, no control characters, no encoded words."""
    value = single_line(value, what, limit)
    if ENCODED_WORD_START in value:
        raise FieldError(
            gettext("%(what)s contains '=?', which mail programs would decode; please reword it.", what=what)
        )
    return value


def plain_text(value: str, what: str, limit: int) -> str:
    """Multi-line text (address, note, letter body): line breaks and tabs allowed, other control characters not."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(value) > limit:
        raise FieldError(
            gettext(
                "%(what)s must be at most %(limit)s characters; it has %(length)s, so please cut %(over)s.",
                what=what,
                limit=i18n.number(limit),
                length=i18n.number(len(value)),
                over=i18n.number(len(value) - limit),
            )
        )
    for char in value:
        if char in "\n\t":
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise FieldError(gettext("%(what)s contains a control character; please remove it.", what=what))
    return value


def name(value: str) -> str:
    value = header_text(value, gettext("Your name"), NAME_MAX)
    if not value:
        raise FieldError(gettext("Please enter your name."))
    if any(char in value for char in '<>"@'):
        raise FieldError(gettext("Your name can't contain < > \" or @."))
    return value


def email(value: str) -> str:
    """The normalized address in ASCII, or a FieldError.

    A domain written in another script (`maria@bücher.example`) is kept in its ASCII form
    (`maria@xn--bcher-kva.example`, what DNS and every mail server use), so no later step has to encode it;
    an address whose local part needs Unicode (SMTPUTF8) is refused here, with a message, because the mail
    servers on the way cannot be relied on to take it.
    """
    value = value.strip()
    if not value:
        raise FieldError(gettext("Please enter your email address."))
    if len(value) > EMAIL_MAX:
        raise FieldError(gettext("An email address has at most %(limit)s characters.", limit=EMAIL_MAX))
    header_text(value, gettext("Your email address"), EMAIL_MAX)
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if current_language() == "en":
            raise FieldError(str(exc)) from None  # email-validator's own words say exactly what is wrong
        raise FieldError(
            gettext("That email address doesn't look right: check it for a typo, like a missing @ or a space.")
        ) from None
    address = checked.ascii_email or checked.normalized
    if not address.isascii() or len(address) > EMAIL_MAX:
        raise FieldError(gettext("Please use the plain (ASCII) form of your email address."))
    return address


def zip_code(value: str) -> str:
    """`12345` or `12345-6789` (a 9-digit ZIP without the dash is accepted and given one), in ASCII digits.

    Full-width digits (a phone keyboard set to Japanese or Chinese) are read as the digits they are; digits
    of other scripts are refused rather than stored as a ZIP nothing can look up."""
    match = ZIP_PATTERN.match(unicodedata.normalize("NFKC", value).strip())
    if not match:
        raise FieldError(gettext("Please enter a 5-digit ZIP code (or ZIP+4, like 94110-1234)."))
    return f"{match[1]}-{match[2]}" if match[2] else match[1]


def smtp_username(value: str) -> str:
    """The user name for the supporter's mail server: it is sent in the login exchange, so one header-safe line."""
    value = header_text(value, gettext("The user name"), EMAIL_MAX)
    if not value:
        raise FieldError(gettext("Enter the user name for your mail account (usually your email address)."))
    return value


def address(value: str) -> str:
    return plain_text(value, gettext("Your postal address"), ADDRESS_MAX)


def note(value: str) -> str:
    return plain_text(value, gettext("Your personal note"), NOTE_MAX)


def subject(value: str) -> str:
    value = header_text(value, gettext("The subject"), SUBJECT_MAX)
    if not value:
        raise FieldError(gettext("The subject can't be empty."))
    return value


def body(value: str) -> str:
    value = plain_text(value, gettext("The letter"), BODY_MAX)
    if not value:
        raise FieldError(gettext("The letter can't be empty."))
    return value


LINK_MAX = 500


def is_link(url: str) -> bool:
    """Whether `url` (stripped) is a web address that leads somewhere: http(s), a host, at most LINK_MAX characters,
    one line with nothing hidden in it (a NUL, which PostgreSQL refuses, a bidi override, a zero-width space). The
    rule for links organizers enter, and for the ones pages show from data stored before it held."""
    try:
        single_line(url, "The link", LINK_MAX)
        parts = urlsplit(url)
        parts.port  # noqa: B018 (read for its check: ValueError past 65535)
    except (FieldError, ValueError):  # ValueError: an unclosed [IPv6] host, a port past 65535
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname) and not any(c.isspace() for c in url)
