"""Error pages and JSON errors: every failure a supporter can cause gets a clear answer, never a bare 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sqlalchemy_exc
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge, TooManyRequests

from webapp.extensions import db
from webapp.i18n import gettext
from webapp.i18n import lazy_gettext as _l
from webapp.security import bodies, limits

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("Something in that request didn't make sense to us."),
    404: _l("We couldn't find that page. The link may be old or mistyped."),
    405: _l("That page can't be used that way."),
    413: _l("That was more text than we can take at once (the limit is 64 KB). Please shorten your letter."),
    429: _l("Too many letters from here in a short time. Please wait a little and try again."),
    500: _l("Something went wrong on our side. What you wrote was not lost: go back and try again."),
    503: _l("A service we rely on is briefly unavailable. Please try again in a minute."),
}


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path in ("/healthz", "/livez")
        or (request.accept_mimetypes.best == "application/json")
    )


def _respond(code: int, description: str | None = None):
    message = description if description and code not in (500,) else MESSAGES.get(code, _l("Something went wrong."))
    message = str(message)
    if _wants_json():
        return jsonify({"error": message, "status": code}), code
    return render_template("error.html", code=code, message=message), code


def _own_headers(exc: HTTPException) -> list[tuple[str, str]]:
    """The headers the error itself carries (Allow on a 405, WWW-Authenticate on a 401), its body's type aside."""
    return [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]


def rate_limited(exc: TooManyRequests):
    """Any limit, HTML or JSON: say which and when to try again, in words and in Retry-After."""
    seconds = limits.retry_after(exc)
    message = limits.explain(exc, seconds)
    if _wants_json():
        response = jsonify({"error": message, "status": 429, "retry_after": seconds})
    else:
        if request.method == "POST":
            message += " " + gettext("What you wrote is still in the form: use your browser's Back button.")
        response = make_response(render_template("error.html", code=429, message=message))
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _respond(
            400,
            gettext(
                "This form expired or came from somewhere else. Go back, reload the page and send again; "
                "what you typed is still in the form."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """Every HTTP error, pages and APIs alike (JSON under /api/), with the error's own headers: a 405 says what
        is Allowed, a 401 how to authenticate; the API blueprints add no handler of their own for these."""
        default = type(exc).description
        body, code = _respond(exc.code or 500, None if exc.description == default else exc.description)
        return body, code, _own_headers(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        """Registered by code so it also answers for the API (whose own handler would echo Werkzeug's text). A view
        that takes larger bodies (a file of targets) says what it takes instead of the letter's 64 KB."""
        return _respond(413, bodies.too_large_refusal())

    app.register_error_handler(TooManyRequests, rate_limited)

    @app.errorhandler(sqlalchemy_exc.OperationalError)
    @app.errorhandler(sqlalchemy_exc.DisconnectionError)
    def database_unavailable(exc: Exception):
        """The database is down, restarting or locked: a 503 that says so, never a 500 (and nothing was written)."""
        log.error("request.database_unavailable path=%s error=%s", request.path, type(exc).__name__)
        db.session.rollback()
        message = gettext(
            "We can't reach our database just now. Nothing was lost on your side: please try again in a minute."
        )
        if request.method == "POST" and not _wants_json():
            message += " " + gettext("What you wrote is still in the form: use your browser's Back button.")
        response = _respond(503, message)
        return response[0], 503, {"Retry-After": "60"}

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error("request.failed path=%s", request.path, exc_info=exc.original_exception)
        return _respond(500)
