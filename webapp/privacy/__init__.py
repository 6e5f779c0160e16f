"""Privacy by default: personal data erased after the retention window or on request; counts kept."""

from __future__ import annotations

from flask import Flask

from webapp.privacy.service import retention_notice


def init_app(app: Flask) -> None:
    """Offer templates the retention notice (`{{ retention_notice }}`) and the window (`{{ retention_days }}`)."""

    @app.context_processor
    def _retention() -> dict:
        return {"retention_days": app.config["RETENTION_DAYS"], "retention_notice": retention_notice()}
