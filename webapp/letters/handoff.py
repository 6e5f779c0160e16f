"""Hand-off links: mailto: per RFC 6068, Gmail / Outlook web compose links, and tel: links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

MAILTO_MAX = 2000  # beyond this some mail programs and browsers cut or refuse the link


def _encode(text: str) -> str:
    """RFC 6068: percent-encode everything but unreserved characters; spaces are %20, never +."""
    return quote(text, safe="")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def mailto_url(to: str, subject: str, body: str | None) -> str:
    query = f"subject={_encode(subject)}"
    if body is not None:
        query += f"&body={_encode(_crlf(body))}"
    return f"mailto:{quote(to, safe='@')}?{query}"


@dataclass(frozen=True)
class HandOff:
    """Everything a supporter needs to send the letter from their own mail program."""

    mailto_url: str
    complete: bool  # False: the body did not fit; the page offers copy buttons instead
    gmail_url: str
    outlook_url: str


def hand_off(to: str, subject: str, body: str) -> HandOff:
    full = mailto_url(to, subject, body)
    complete = len(full) <= MAILTO_MAX
    web_body = body if complete else ""
    gmail = "https://mail.google.com/mail/?" + urlencode(
        {"view": "cm", "fs": "1", "to": to, "su": subject, "body": web_body}, quote_via=quote
    )
    outlook = "https://outlook.office.com/mail/deeplink/compose?" + urlencode(
        {"to": to, "subject": subject, "body": web_body}, quote_via=quote
    )
    return HandOff(full if complete else mailto_url(to, subject, None), complete, gmail, outlook)


def tel_uri(phone: str) -> str:
    """`(212) 415-4000` → `tel:+12124154000` (RFC 3966); US numbers get their +1."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 10:
        digits = "1" + digits
    return f"tel:+{digits}"
