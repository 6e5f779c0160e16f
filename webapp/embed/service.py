"""Where a campaign may be embedded: each campaign's list of site origins, checked so that nothing but an origin
can reach the `frame-ancestors` directive it becomes, and the headers the embed is served with."""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import escape

from webapp.core.invalid import Invalid
from webapp.i18n import gettext
from webapp.models import Campaign
from webapp.security.headers import CONTENT_SECURITY_POLICY

ORIGINS_MAX = 20
# scheme://host[:port], the host a name (optionally `*.` for its subdomains) or an IPv4 address; nothing else, so
# no space, quote or semicolon can end the directive and start another.
ORIGIN = re.compile(
    r"^(https?)://(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)(:[0-9]{1,5})?$"
)
_NONE = "frame-ancestors 'none'"


class InvalidOrigins(Invalid):
    """Lines that aren't site origins, each with why, in the organizer's words (the `origins` field's errors)."""

    def __init__(self, problems: list[str]):
        super().__init__({"origins": problems})
        self.problems = problems


def clean_origins(lines: Iterable[str]) -> list[str]:
    """Site origins from what an organizer typed (one a line; a pasted page address is cut to its origin)."""
    found: list[str] = []
    problems = []
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        origin = _origin_of(text)
        if origin is None:
            problems.append(
                gettext(
                    "“%(text)s” is not a site address: write it like https://www.example.org (https:// or http://, "
                    "the site's name and, if it has one, its port).",
                    text=text[:100],
                )
            )
        elif origin not in found:
            found.append(origin)
    if len(found) > ORIGINS_MAX:
        problems.append(gettext("List at most %(most)s sites.", most=ORIGINS_MAX))
    if problems:
        raise InvalidOrigins(problems)
    return found


def _origin_of(text: str) -> str | None:
    """`https://www.example.org/act?x=1` → `https://www.example.org`; None for anything that isn't one."""
    scheme, sep, rest = text.lower().partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    match = ORIGIN.fullmatch(f"{scheme}://{host}") if sep else None
    if match is None:
        return None
    port = match.group(4) or ""
    if port and int(port[1:]) > 65535:
        return None
    if port == {"https": ":443", "http": ":80"}[scheme]:
        port = ""  # browsers write an origin on its scheme's own port without it
    return f"{scheme}://{match.group(2) or ''}{match.group(3)}{port}"


def set_origins(campaign: Campaign, lines: Iterable[str]) -> list[str]:
    """Replace where the campaign may be embedded (the caller commits); raises InvalidOrigins and changes nothing."""
    origins = clean_origins(lines)
    campaign.embed_origins = origins
    return origins


def frame_ancestors(campaign: Campaign) -> str:
    """The directive for the embed: this site (the dashboard's preview) and the origins the organizers listed."""
    origins = [origin for origin in (campaign.embed_origins or []) if ORIGIN.fullmatch(origin)]  # checked again
    return " ".join(["frame-ancestors 'self'", *origins])


def headers(campaign: Campaign) -> dict[str, str]:
    """The embed's framing headers. The CSP is the site's with `frame-ancestors` widened; X-Frame-Options, which
    can't name other sites, is SAMEORIGIN when only this site may frame it and left out otherwise, so the two
    never disagree (browsers that know frame-ancestors ignore X-Frame-Options anyway)."""
    policy = CONTENT_SECURITY_POLICY.replace(_NONE, frame_ancestors(campaign))
    found = {"Content-Security-Policy": policy}
    if not campaign.embed_origins:
        found["X-Frame-Options"] = "SAMEORIGIN"
    return found


def snippet(campaign: Campaign, page_url: str, script_url: str) -> str:
    """The HTML an organizer pastes into their own site: the frame, and the script that sizes it."""
    return (
        f'<iframe src="{escape(page_url)}" title="{escape(campaign.title)}" data-outcry-embed width="100%" '
        f'height="640" loading="lazy" style="border:0"></iframe>\n<script src="{escape(script_url)}" async></script>'
    )
