"""The one JSON error responder every API blueprint registers (the supporter API, the organizer API, the
Congress lookup), as webapp/api/openapi.yaml documents it.

It lives in the core layer, beside the error type it answers (`invalid`), because the feature APIs that register
it sit on both sides of webapp/errors.py's imports (errors → security → campaigns → cwc → congress): a
blueprint in congress importing webapp.errors would close a package cycle. The app-wide pages stay in
webapp/errors.py.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from webapp.core.invalid import Invalid


def json_errors(blueprint: Blueprint) -> None:
    """Answer every error on `blueprint` in JSON (each API registers this).

    An HTTP error is `{"error", "status"}` with the error's own headers (WWW-Authenticate on a 401). Invalid input
    (webapp/core/invalid.py, any feature's subclass) is `{"errors": {field: [message, …]}}` with its status: 422,
    or 409 for a conflict; a refused letter template adds `problems` and `error`. The app's own handlers
    (webapp/errors.py) still answer 413, 429, 500 and a database outage for every path.
    """
    blueprint.register_error_handler(HTTPException, _json_http_error)
    blueprint.register_error_handler(Invalid, _json_invalid)


def _json_http_error(exc: HTTPException):
    response = jsonify({"error": exc.description, "status": exc.code})
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers.add(name, value)
    return response


def _json_invalid(exc: Invalid):
    return jsonify(exc.body()), exc.status
