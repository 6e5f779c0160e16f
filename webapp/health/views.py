"""`/healthz`: is the database reachable, is Redis, is any worker alive."""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db, get_redis

bp = Blueprint("health", __name__)

WORKER_KEY_PATTERN = "outcry:worker:*"


@bp.route("/healthz")
def healthz():
    report = {"database": "ok", "redis": "ok", "worker": "none"}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        report["database"] = "unreachable"
    try:
        redis = get_redis()
        redis.ping()
        if next(redis.scan_iter(match=WORKER_KEY_PATTERN, count=100), None) is not None:
            report["worker"] = "ok"
    except RedisError:
        report["redis"] = "unreachable"
    healthy = report["database"] == "ok" and report["redis"] == "ok"
    return jsonify(report), 200 if healthy else 503
