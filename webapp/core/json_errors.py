"""What every API blueprint registers (the supporter API, the organizer API, the Congress lookup), as
webapp/api/openapi.yaml documents it: invalid input answered in JSON, field by field.

It lives in the core layer, beside the error type it answers (`invalid`), because the feature APIs that register
it sit on both sides of webapp/errors.py's imports (errors → security → campaigns → cwc → congress): a
blueprint in congress importing webapp.errors would close a package cycle. HTTP errors (a 404, a 405 with its
Allow header, a 401 with WWW-Authenticate, 413, 429, 500, a database outage) are answered for every path by the
app's own handlers in webapp/errors.py, in JSON under /api/: a routing error (a 405, an unknown /api/ path) never
reaches a blueprint's handler, so that one responder has to answer them anyway.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from webapp.core.invalid import Invalid


def json_errors(blueprint: Blueprint) -> None:
    """Answer invalid input on `blueprint` in JSON (each API registers this): webapp/core/invalid.py's Invalid, any
    feature's subclass, is `{"errors": {field: [message, …]}}` with its status, 422, or 409 for a conflict; a refused
    letter template adds `problems` and `error`."""
    blueprint.register_error_handler(Invalid, _json_invalid)


def _json_invalid(exc: Invalid):
    return jsonify(exc.body()), exc.status
