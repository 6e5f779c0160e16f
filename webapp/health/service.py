"""What /healthz and the operator commands report: database and Redis reachable, workers alive, the outbox's age."""

from __future__ import annotations

from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db, get_redis
from webapp.models import PENDING, Letter, utcnow

# Each worker keeps one such key alive (tasks/celery.py); it lapses WORKER_HEARTBEAT_TTL seconds after the last beat.
WORKER_KEY_PATTERN = "outcry:worker:*"


def oldest_queued_seconds() -> float | None:
    """Age of the oldest letter still queued or sending, or None when nothing waits.

    Reads only pending rows, found through the (status, lease_until) index: cheap while the outbox
    drains, and proportional to the backlog when it does not (which is when an operator wants to know).
    """
    oldest = db.session.scalar(select(func.min(Letter.created_at)).where(Letter.status.in_(PENDING)))
    if oldest is None:
        return None
    return round(max(0.0, (utcnow() - oldest).total_seconds()), 1)


def workers_alive() -> int:
    """Workers whose heartbeat key has not lapsed. Raises RedisError when Redis is unreachable."""
    return sum(1 for _ in get_redis().scan_iter(match=WORKER_KEY_PATTERN, count=100))


def any_worker_alive() -> bool:
    """Whether one worker's heartbeat key is there: the scan stops at the first (the health check is polled often)."""
    return next(get_redis().scan_iter(match=WORKER_KEY_PATTERN, count=100), None) is not None


def report() -> tuple[dict, bool]:
    """The health report and whether the app can serve (database and Redis reachable)."""
    health: dict = {"database": "ok", "redis": "ok", "worker": "none", "oldest_queued_seconds": None}
    try:
        db.session.execute(text("SELECT 1"))
        health["oldest_queued_seconds"] = oldest_queued_seconds()
    except SQLAlchemyError:
        db.session.rollback()
        health["database"] = "unreachable"
    try:
        get_redis().ping()
        if any_worker_alive():
            health["worker"] = "ok"
    except RedisError:
        health["redis"] = "unreachable"
    return health, health["database"] == "ok" and health["redis"] == "ok"
