"""`GET /api/v1/congress?zip=…`: a ZIP's members of Congress as JSON, from the in-process cache."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import NotFound, ServiceUnavailable

from webapp.congress import service
from webapp.core.json_errors import json_errors
from webapp.extensions import csrf

bp = Blueprint("congress", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # read-only JSON; no cookies authenticate it
json_errors(bp)


@bp.route("/congress")
def by_zip():
    try:
        found = service.lookup(request.args.get("zip", ""))  # InvalidZip is an Invalid under "zip": a 422
    except service.UnknownZip as exc:
        raise NotFound(str(exc)) from None
    except service.CongressDataMissing:
        raise ServiceUnavailable(
            "The members-of-Congress lookup is not ready yet. Please try again in a minute.", retry_after=60
        ) from None
    response = jsonify(found.as_dict())
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
