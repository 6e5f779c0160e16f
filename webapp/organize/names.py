"""How the workspace names things: target kinds and channels in plain words, and addresses (slugs) made from
names (the rule they must meet is webapp/campaigns/content.py's SLUG)."""

from __future__ import annotations

import re
import unicodedata

from webapp.i18n import lazy_gettext as _l

# What the workspace calls each kind of target and each way of sending, in its lists and forms.
KIND_NAMES = {
    "ceo": "CEO or executive",
    "company": "Company",
    "un_office": "UN office or agency",
    "government": "Government office or mission",
    "person": "Person",
    "senator": "US senators",
    "representative": "US representatives",
    "delegate": "Delegates and the resident commissioner",
}
CHANNEL_NAMES = {
    "smtp": "Email from the supporter's own account",
    "mailto": "The supporter's mail app (mailto)",
    "contact_form": "The target's web contact form",
    "print": "A printed letter",
    "call": "A phone call (call script)",
    "cwc": _l("Delivered into their office through Congress's own system (CWC, when this site has it)"),
}
# The same, as short as a tag on a table row.
CHANNEL_TAGS = {
    "smtp": "email",
    "mailto": "mail app",
    "contact_form": "web form",
    "print": "printed letter",
    "call": "phone",
    "cwc": _l("to their office"),
}


def slugify(text: str, limit: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-")
