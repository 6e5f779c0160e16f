"""`/healthz`: is the database reachable, is Redis, is any worker alive, and how old is the oldest waiting letter.
`/livez`: is this web process answering at all (what the `web` container's health check asks)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from webapp.health import service

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    report, healthy = service.report()
    return jsonify(report), 200 if healthy else 503


@bp.route("/livez")
def livez():
    """200 whenever this process serves requests: it asks nothing of the database, Redis or the workers. A
    container's health check is about the container (is gunicorn alive and answering?), so it reads this, not
    /healthz, which also answers 503 when delivery stalls or a part the web process needs is down: the web
    container is fine then, and restarting it would fix nothing. Monitoring reads /healthz."""
    return jsonify({"web": "ok"})
