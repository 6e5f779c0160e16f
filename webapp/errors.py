"""Error pages and JSON errors: every failure a supporter can cause gets a clear answer, never a bare 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sqlalchemy_exc
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge, TooManyRequests

from webapp.core.rendering import RendererUnavailable
from webapp.extensions import db
from webapp.i18n import gettext
from webapp.i18n import lazy_gettext as _l
from webapp.security import bodies, limits

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("Something in that request didn't make sense to us."),
    404: _l("We couldn't find that page. The link may be old or mistyped."),
    405: _l("That page can't be used that way."),
    413: _l("That was more text than we can take at once. Please shorten your letter."),
    429: _l("Too many letters from here in a short time. Please wait a little and try again."),
    500: _l("Something went wrong on our side. What you wrote was not lost: go back and try again."),
    503: _l("A service we rely on is briefly unavailable. Please try again in a minute."),
}

# When no render process can write letters (none starts, all stay busy, one was killed): the pages that draft show it
# beside everything the supporter typed; any other path, and the API, answer it as a 503 (renderer_unavailable).
RENDERER_UNAVAILABLE = _l(
    "We can't write your letter just now: our server is busy. Everything you typed is kept; please try again in a "
    "minute."
)


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
    if code == 413 and description is None and request.method == "POST":
        # Too long a letter: the browser kept it in the page it came from.
        message += " " + gettext("What you wrote is still in the form: use your browser's Back button.")
    return render_template("error.html", code=code, message=message), code


def _own_headers(exc: HTTPException) -> list[tuple[str, str]]:
    """The headers the error itself carries (Allow on a 405, WWW-Authenticate on a 401), its body's type aside."""
    return [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]


def rate_limited(exc: TooManyRequests):
    """Any limit, HTML or JSON: say which and when to try again, in words and in Retry-After."""
    seconds = limits.retry_after(exc)
    return _try_again_later(429, limits.explain(exc, seconds), seconds)


def _try_again_later(code: int, message: str, seconds: int):
    """An answer that says when to try again, in words and in Retry-After (JSON for the API)."""
    if _wants_json():
        response = jsonify({"error": message, "status": code, "retry_after": seconds})
    else:
        if request.method == "POST":
            message += " " + gettext("What you wrote is still in the form: use your browser's Back button.")
        response = make_response(render_template("error.html", code=code, message=message))
    response.status_code = code
    response.headers["Retry-After"] = str(seconds)
    return response


def renderer_unavailable(exc: RendererUnavailable):
    """No render process could write the letters: a 503 with Retry-After, never a 500. (The write page, the preview
    and the send step catch it themselves, to show it beside what the supporter typed.)"""
    log.warning("request.renderer_unavailable path=%s", request.path)
    return _try_again_later(503, str(RENDERER_UNAVAILABLE), exc.retry_after_seconds)


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
        that takes larger bodies (a file of targets) says what it takes."""
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

    app.register_error_handler(RendererUnavailable, renderer_unavailable)

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        log.error("request.failed path=%s", request.path, exc_info=exc.original_exception)
        return _respond(500)
