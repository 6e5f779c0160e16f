"""The supporter's pages: write, preview and edit, send or hand off, call office after office, print, watch the
letters' status, and the receipt of everything done in the visit. One blueprint, `letters`; each module registers
the routes of one step on it."""

from __future__ import annotations

from flask import Blueprint

from webapp.letters.forms import error_items
from webapp.letters.handoff import tel_uri

bp = Blueprint("letters", __name__)
bp.add_app_template_filter(tel_uri, "tel")
bp.add_app_template_global(error_items, "error_items")

# The steps' routes, registered on `bp` as each module is imported.
from webapp.letters.views import calls, printing, sending, status, writing  # noqa: E402, F401
