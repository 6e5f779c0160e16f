"""What /healthz and the operator commands report: database and Redis reachable, workers alive, the outbox's age.

/healthz answers 503 with its reasons (`problems`) when the database or Redis is unreachable, when no delivery
worker is alive, or when the oldest letter due for delivery has waited longer than HEALTH_MAX_WAIT seconds
(default 120): a stall a monitor should page for, whatever the workers' own heartbeats say.
"""

from __future__ import annotations

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db, get_redis
from webapp.models import PENDING, QUEUED, SENDING, Letter, utcnow

# Each worker keeps one such key alive (tasks/celery.py); it lapses WORKER_HEARTBEAT_TTL seconds after the last beat.
WORKER_KEY_PATTERN = "outcry:worker:*"


def oldest_queued_seconds() -> float | None:
    """Age of the oldest letter still queued or sending, or None when nothing waits.

    Reads only pending rows, found through the (status, created_at) index: cheap while the outbox
    drains, and proportional to the backlog when it does not (which is when an operator wants to know).
    """
    oldest = db.session.scalar(select(func.min(Letter.created_at)).where(Letter.status.in_(PENDING)))
    if oldest is None:
        return None
    return round(max(0.0, (utcnow() - oldest).total_seconds()), 1)


def oldest_due_seconds() -> float | None:
    """How long the letter that has waited longest for a worker, since it came due, has waited: a queued letter
    from its retry time (or its writing), a letter whose worker let its lease run out from that moment. None
    when none is due. Letters a worker holds under a live lease, or waiting for a retry time still ahead,
    are not due."""
    now = utcnow()
    queued_since = func.coalesce(Letter.next_attempt_at, Letter.created_at)
    queued = db.session.scalar(select(func.min(queued_since)).where(Letter.status == QUEUED, queued_since <= now))
    abandoned = db.session.scalar(
        select(func.min(Letter.lease_until)).where(Letter.status == SENDING, Letter.lease_until < now)
    )
    since = min((moment for moment in (queued, abandoned) if moment is not None), default=None)
    return None if since is None else round(max(0.0, (now - since).total_seconds()), 1)


def workers_alive() -> int:
    """Workers whose heartbeat key has not lapsed. Raises RedisError when Redis is unreachable."""
    return sum(1 for _ in get_redis().scan_iter(match=WORKER_KEY_PATTERN, count=100))


def any_worker_alive() -> bool:
    """Whether one worker's heartbeat key is there: the scan stops at the first (the health check is polled often)."""
    return next(get_redis().scan_iter(match=WORKER_KEY_PATTERN, count=100), None) is not None


def report() -> tuple[dict, bool]:
    """The health report and whether all is well: database and Redis reachable, a delivery worker alive, and no
    letter due for longer than HEALTH_MAX_WAIT seconds. `problems` says in words what is not."""
    limit = float(current_app.config["HEALTH_MAX_WAIT"])
    health: dict = {
        "database": "ok",
        "redis": "ok",
        "worker": "none",
        "oldest_queued_seconds": None,
        "oldest_due_seconds": None,
        "problems": [],
    }
    problems = health["problems"]
    try:
        db.session.execute(text("SELECT 1"))
        health["oldest_queued_seconds"] = oldest_queued_seconds()
        health["oldest_due_seconds"] = oldest_due_seconds()
        db.session.commit()  # nothing was written: this ends the read transaction, inside the try that reports it
    except SQLAlchemyError:
        db.session.rollback()
        health["database"] = "unreachable"
        problems.append("The database is unreachable.")
    try:
        get_redis().ping()
        if any_worker_alive():
            health["worker"] = "ok"
        else:
            problems.append("No delivery worker is alive (no heartbeat in Redis): own-email letters are not going out.")
    except RedisError:
        health["redis"] = "unreachable"
        problems.append("Redis is unreachable: nothing can be queued, and no worker can be seen.")
    due = health["oldest_due_seconds"]
    if due is not None and due > limit:
        problems.append(
            f"A letter due for delivery has waited {due:.0f} s, more than HEALTH_MAX_WAIT ({limit:g} s): delivery "
            "is stalled or falling behind (`flask letters stuck` says why)."
        )
    return health, not problems
