"""Addresses: no part of a path holds a control character. A NUL (`/s/%00`), which PostgreSQL refuses in any
query, a line break or a tab names nothing Outcry keeps, so every route's `<argument>` is matched by one converter
that leaves them out, and such an address is a 404 before any view looks anything up (on SQLite it was a 404 by
luck, on PostgreSQL a 500)."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import UnicodeConverter


class PlainSegment(UnicodeConverter):
    """Werkzeug's default converter (one path segment, any length rules it is given) without control characters."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f]", 1)


def init_app(app: Flask) -> None:
    """Before any route is added: the converters are bound as each rule is."""
    app.url_map.converters["default"] = PlainSegment
    app.url_map.converters["string"] = PlainSegment
