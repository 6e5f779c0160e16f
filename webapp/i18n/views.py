"""The language switch: a POST that keeps the chosen language for the rest of the visit and goes back."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for

from webapp import i18n

bp = Blueprint("i18n", __name__)


@bp.route("/language", methods=["POST"])
def switch():
    if not i18n.choose(request.form.get("language", "")):
        abort(400, i18n.gettext("We don't have the site in that language yet."))
    return redirect(i18n.safe_next(request.form.get("next"), url_for("campaigns.index")), code=303)
