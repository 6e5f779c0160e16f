"""Request bodies: JSON that cannot take the parser (or the rate limiter reading it) down with it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider


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


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
