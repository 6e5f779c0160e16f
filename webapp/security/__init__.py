"""Abuse resistance for every request: the proxy hop we trust, request bodies, security headers, and rate limits."""

from __future__ import annotations

from flask import Flask

from webapp.security import bodies, headers, limits, proxy


def init_app(app: Flask) -> None:
    """Wire proxy handling, headers and limits; call after the blueprints are registered."""
    proxy.init_app(app)
    bodies.init_app(app)
    headers.init_app(app)
    limits.init_app(app)
