"""Members' roles on supporter pages, in the reader's language.

A member's role stays English where Congress reads it: `Target.role` (the letters' "Dear Senator …", the call
script's words to say, CWC, the stored data and the API). Pages name a member through these messages instead.
Spanish gives its roles a gender ("senador", "senadora") and the records don't say which, so the Spanish names the
chamber after the name rather than putting a title before it.
"""

from __future__ import annotations

from webapp.i18n import gettext
from webapp.i18n.reasons import N_

WITH_NAME = {
    "Senator": N_("Senator %(name)s"),
    "Representative": N_("Representative %(name)s"),
    "Delegate": N_("Delegate %(name)s"),
    "Resident Commissioner": N_("Resident Commissioner %(name)s"),
}
VACANT = {
    "Senator": N_("Senator, %(seat)s: vacant"),
    "Representative": N_("Representative, %(seat)s: vacant"),
    "Delegate": N_("Delegate, %(seat)s: vacant"),
    "Resident Commissioner": N_("Resident Commissioner, %(seat)s: vacant"),
}


def with_name(role: str, name: str) -> str:
    """`Senator Alex Padilla` in the reader's language; a role we don't know (a campaign's own) as written."""
    message = WITH_NAME.get(role)
    return gettext(message, name=name) if message else f"{role} {name}".strip()


def vacant(role: str, seat: str) -> str:
    """`Representative, CA-11: vacant` in the reader's language."""
    message = VACANT.get(role)
    return gettext(message, seat=seat) if message else f"{role}, {seat}: {gettext('vacant')}"
