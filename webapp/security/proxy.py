"""Trusting a reverse proxy's X-Forwarded-For/-Proto, for exactly the number of hops the operator set."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """PROXY_FIX_HOPS=0 (the default) trusts no forwarded header: a client could otherwise pick its own
    address and walk around the per-address limits. Behind one TLS proxy, set it to 1."""
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops:
        # Host and prefix stay as the proxy passes them; only the client address and scheme are taken.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
