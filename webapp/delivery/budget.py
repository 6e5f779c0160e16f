"""A budget of failed sign-ins per mail server, so that nobody can use Outcry to test stolen mail passwords.

Without it, anyone could submit letters with a list of stolen addresses and passwords and read off the status
page which ones work ("rejected the user name or password" against "sent"). Every sign-in the server refuses
(a permanent authentication failure) is counted against the server's host name in Redis; once a window's
budget (SMTP_AUTH_FAILURES, default "30 per hour") is spent, workers stop offering passwords to that server
until the window ends: its letters wait and retry on the schedule, and say why meanwhile. The window is fixed
and keyed by host name only, never by supporter.
"""

from __future__ import annotations

import logging
import math
import time

from flask import current_app
from limits import RateLimitItem, parse_many
from redis.exceptions import RedisError

from webapp.delivery.smtp import DeliveryError
from webapp.extensions import get_redis

log = logging.getLogger(__name__)

KEY_PREFIX = "outcry:auth-failures"


def _windows() -> list[RateLimitItem]:
    return parse_many(current_app.config["SMTP_AUTH_FAILURES"])


def _key(host: str, item: RateLimitItem, now: float) -> tuple[str, int]:
    period = item.get_expiry()
    window = int(now // period)
    return f"{KEY_PREFIX}:{item.get_expiry()}:{window}:{host.lower()}", int(period - now % period) + 1


def check(host: str) -> None:
    """Raise a temporary DeliveryError when `host` has used up a failure budget; if Redis cannot say, go ahead
    (delivery needs Redis for the password anyway)."""
    now = time.time()
    try:
        redis = get_redis()
        keys = [(_key(host, item, now), item) for item in _windows()]
        counts = redis.mget([key for (key, _ttl), _item in keys])
    except RedisError:
        return
    for ((_key_name, ttl), item), count in zip(keys, counts, strict=True):
        if count is not None and int(count) >= item.amount:
            minutes = max(1, math.ceil(ttl / 60))
            log.warning("auth_budget.spent host=%s window=%ss", host, item.get_expiry())
            raise DeliveryError(
                f"Too many sign-ins to {host} through Outcry failed recently, so we paused signing in there for "
                f"about {minutes} minutes (it protects people whose passwords were stolen); your letter waits and "
                "we'll try again.",
                transient=True,
                kind="busy",
            )


def spend(host: str) -> None:
    """Count one refused sign-in against `host`."""
    now = time.time()
    try:
        pipe = get_redis().pipeline(transaction=False)
        for item in _windows():
            key, ttl = _key(host, item, now)
            pipe.incr(key)
            pipe.expire(key, ttl)
        pipe.execute()
    except RedisError as exc:
        log.warning("auth_budget.unrecorded host=%s error=%s", host, type(exc).__name__)
