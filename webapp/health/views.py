"""`/healthz`: is the database reachable, is Redis, is any worker alive, and how old is the oldest waiting letter."""

from __future__ import annotations

from flask import Blueprint, jsonify

from webapp.health import service

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    report, healthy = service.report()
    return jsonify(report), 200 if healthy else 503
