"""Request bodies: JSON that cannot take the parser (or the rate limiter reading it) down with it, and the few
views that take more than MAX_CONTENT_LENGTH (a letter's text, a file of targets), each saying what it takes when
refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider

from webapp.core import validation

View = TypeVar("View", bound=Callable[..., Any])


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested deeper than Python's parser can recurse is malformed JSON.

    `json.loads` raises RecursionError there, which is no ValueError: Werkzeug's `get_json` lets it through
    as a 500, and `get_json(silent=True)` (the rate limiter's read of the campaign) as well, which
    Flask-Limiter then swallowed without counting the request. As a ValueError it is a 400 like any other
    malformed body, and the silent readers see None.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def takes_up_to(limit: int, refusal: Any) -> Callable[[View], View]:
    """Let one view take a body of up to `limit` bytes (text fields of a multipart form too), and answer `refusal`
    in the 413 past it. Every other view keeps MAX_CONTENT_LENGTH."""

    def mark(view: View) -> View:
        view.body_limit = (limit, refusal)  # type: ignore[attr-defined]
        return view

    return mark


def takes_a_letter(view: View) -> View:
    """The views a letter's text is posted to (the supporter's write and send steps, the API's submissions, the
    workspace's letter editor) take the largest letter there can be, written in any script
    (`validation.REQUEST_MAX`), so no one loses a letter to a 413; past it, the 413's usual words."""
    return takes_up_to(validation.REQUEST_MAX, None)(view)


def _allowance(req: Request) -> tuple[int, Any] | None:
    """The matched view's own limit and refusal, when it declared one (`takes_up_to`)."""
    view = current_app.view_functions.get(req.endpoint or "") if current_app else None
    return getattr(view, "body_limit", None)


def too_large_refusal() -> Any:
    """What the 413 says for this request's view, when the view declared its own limit; else None."""
    allowance = _allowance(request)
    return allowance[1] if allowance else None


class BoundedRequest(Request):
    """Flask's request, whose body limits are the matched view's own when it declared them. They must hold before
    anything reads the body, and the CSRF check reads the form before any view or blueprint hook runs."""

    @property
    def max_content_length(self) -> int | None:
        allowance = None if self._max_content_length is not None else _allowance(self)
        return allowance[0] if allowance else Request.max_content_length.fget(self)  # type: ignore[attr-defined]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        allowance = None if self._max_form_memory_size is not None else _allowance(self)
        return allowance[0] if allowance else Request.max_form_memory_size.fget(self)  # type: ignore[attr-defined]

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedRequest
