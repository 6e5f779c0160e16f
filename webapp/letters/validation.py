"""Field rules for supporter input, shared by the HTML form and the JSON API."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

NAME_MAX = 100
EMAIL_MAX = 254
ADDRESS_MAX = 500
NOTE_MAX = 5000
SUBJECT_MAX = 200
BODY_MAX = 20000

ZIP_PATTERN = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
# An RFC 2047 encoded word: `=?charset?q?…?=`. Supporter text must never look like one, because
# Python 3.11.7's email package may pass it through and a reader decodes it (CVE-2024-6923).
ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bqBQ]\?", re.ASCII)


class FieldError(ValueError):
    """A value a supporter typed that cannot be used; the message says why in plain words."""


def header_text(value: str, what: str, limit: int) -> str:
    """Text that will become part of a mail header: one line, no control characters, no encoded words."""
    value = value.strip()
    if len(value) > limit:
        raise FieldError(f"{what} must be at most {limit} characters.")
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            raise FieldError(f"{what} must be a single line without control characters.")
    if ENCODED_WORD.search(value):
        raise FieldError(f"{what} contains '=?…?', which mail programs would decode; please reword it.")
    return value


def plain_text(value: str, what: str, limit: int) -> str:
    """Multi-line text (address, note, letter body): line breaks and tabs allowed, other control characters not."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(value) > limit:
        raise FieldError(f"{what} must be at most {limit:,} characters (it has {len(value):,}).")
    for char in value:
        if char in "\n\t":
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise FieldError(f"{what} contains a control character; please remove it.")
    return value


def name(value: str) -> str:
    value = header_text(value, "Your name", NAME_MAX)
    if not value:
        raise FieldError("Please enter your name.")
    if any(char in value for char in '<>"@'):
        raise FieldError("Your name can't contain < > \" or @.")
    return value


def email(value: str) -> str:
    """The normalized address (what email-validator returns), or a FieldError."""
    value = value.strip()
    if not value:
        raise FieldError("Please enter your email address.")
    if len(value) > EMAIL_MAX:
        raise FieldError(f"An email address has at most {EMAIL_MAX} characters.")
    header_text(value, "Your email address", EMAIL_MAX)
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise FieldError(str(exc)) from None
    return checked.normalized


def zip_code(value: str) -> str:
    """`12345` or `12345-6789` (a 9-digit ZIP without the dash is accepted and given one)."""
    match = ZIP_PATTERN.match(value.strip())
    if not match:
        raise FieldError("Please enter a 5-digit ZIP code (or ZIP+4, like 94110-1234).")
    return f"{match[1]}-{match[2]}" if match[2] else match[1]


def address(value: str) -> str:
    return plain_text(value, "Your postal address", ADDRESS_MAX)


def note(value: str) -> str:
    return plain_text(value, "Your personal note", NOTE_MAX)


def subject(value: str) -> str:
    value = header_text(value, "The subject", SUBJECT_MAX)
    if not value:
        raise FieldError("The subject can't be empty.")
    return value


def body(value: str) -> str:
    value = plain_text(value, "The letter", BODY_MAX)
    if not value:
        raise FieldError("The letter can't be empty.")
    return value
