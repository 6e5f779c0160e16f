"""`GET /api/v1/congress?zip=…`: a ZIP's members of Congress as JSON, from the in-process cache."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from webapp.congress import service
from webapp.extensions import csrf

bp = Blueprint("congress", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # read-only JSON; no cookies authenticate it


def _error(status: int, message: str):
    return jsonify({"error": message, "status": status}), status


@bp.route("/congress")
def by_zip():
    try:
        found = service.lookup(request.args.get("zip", ""))
    except service.InvalidZip as exc:
        return jsonify({"errors": {"zip": [str(exc)]}}), 422
    except service.UnknownZip as exc:
        return _error(404, str(exc))
    except service.CongressDataMissing:
        return _error(503, "The members-of-Congress lookup is not ready yet. Please try again in a minute.")
    response = jsonify(found.as_dict())
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
