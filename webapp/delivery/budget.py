"""Budgets of refused sign-ins, so that nobody can use Outcry to test stolen mail passwords, nor guess one.

Without them, anyone could submit letters with a list of stolen addresses and passwords and read off the status
page which ones work ("rejected the user name or password" against "sent"). Every sign-in a server refuses
(a permanent authentication failure) is counted in Redis twice, in fixed windows:

- against the server's host name (SMTP_AUTH_FAILURES, default "30 per hour"), a budget that grows with the
  server's recent successes: each account that signed in there successfully in the same window allows
  SMTP_AUTH_FAILURES_PER_SUCCESS (default 1) more refusals. Real supporters of a big shared provider
  (smtp.gmail.com) mostly succeed, so their typos fit in the room their successes make; a checker of stolen
  passwords mostly fails, so their budget stays near the base. Successes count distinct accounts (a
  HyperLogLog of keyed hashes, so one working account signing in again and again earns nothing more);
- against the account, the host and user name together (SMTP_AUTH_FAILURES_PER_ACCOUNT, default "5 per hour"),
  so nobody guesses one person's password through Outcry, and the provider's own lock-out is not set off.

Once a budget is spent, workers stop offering passwords to that server (or that account) until the window
ends: its letters wait and retry on the schedule, and say why meanwhile; and the form refuses new letters for it
at once with a 429 that says so (`paused()`), the supporter's text kept. User names are never stored: the
account keys are keyed hashes (limits.pseudonym).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse_many
from redis.exceptions import RedisError

from webapp.delivery.smtp import DeliveryError
from webapp.extensions import get_redis
from webapp.security.limits import pseudonym

log = logging.getLogger(__name__)

KEY_PREFIX = "outcry:auth-failures"
HOST, ACCOUNT = "host", "account"


@dataclass(frozen=True)
class Pause:
    """A spent budget: whose (HOST or ACCOUNT) and for how many more seconds."""

    scope: str
    seconds: int


def _windows(setting: str) -> list[RateLimitItem]:
    return parse_many(current_app.config[setting])


def _slot(item: RateLimitItem, now: float) -> tuple[str, int]:
    """(the window's name, seconds until it ends + 1) for a fixed window of `item`'s length."""
    period = item.get_expiry()
    return f"{period}:{int(now // period)}", int(period - now % period) + 1


def _slots(setting: str, now: float) -> list[tuple[str, int]]:
    return [_slot(item, now) for item in _windows(setting)]


def _account(host: str, username: str) -> str:
    """The account's key: a keyed hash, so the user name is never written to Redis."""
    return pseudonym("smtp-account", f"{host}\0{username.strip().lower()}")


def _failures_key(slot: str, host: str) -> str:
    return f"{KEY_PREFIX}:{slot}:{host}"


def _successes_key(slot: str, host: str) -> str:
    return f"{KEY_PREFIX}:ok:{slot}:{host}"


def _account_key(slot: str, account: str) -> str:
    return f"{KEY_PREFIX}:account:{slot}:{account}"


def allowed(base: int, successes: int) -> int:
    """Refused sign-ins a host may have in a window in which `successes` accounts signed in there."""
    return base + math.floor(float(current_app.config["SMTP_AUTH_FAILURES_PER_SUCCESS"]) * successes)


def paused(host: str, username: str) -> Pause | None:
    """Whether signing in to `username` at `host` is paused now, and for how long (the host's budget first, as
    it is everyone's); None when it is not, or when Redis cannot say (delivery needs Redis for the password
    anyway). Reads only: nothing is spent."""
    host, now = host.lower(), time.time()
    account = _account(host, username)
    hosts = [(item, *_slot(item, now)) for item in _windows("SMTP_AUTH_FAILURES")]
    accounts = [(item, *_slot(item, now)) for item in _windows("SMTP_AUTH_FAILURES_PER_ACCOUNT")]
    try:
        pipe = get_redis().pipeline(transaction=False)
        for _item, slot, _ttl in hosts:
            pipe.get(_failures_key(slot, host))
            pipe.pfcount(_successes_key(slot, host))
        for _item, slot, _ttl in accounts:
            pipe.get(_account_key(slot, account))
        answers = pipe.execute()
    except RedisError:
        return None
    for index, (item, _slot_name, ttl) in enumerate(hosts):
        failures, successes = int(answers[2 * index] or 0), int(answers[2 * index + 1] or 0)
        if failures >= allowed(item.amount, successes):
            log.warning("auth_budget.spent scope=host host=%s window=%ss", host, item.get_expiry())
            return Pause(HOST, ttl)
    for index, (item, _slot_name, ttl) in enumerate(accounts):
        if int(answers[2 * len(hosts) + index] or 0) >= item.amount:
            log.warning("auth_budget.spent scope=account host=%s window=%ss", host, item.get_expiry())
            return Pause(ACCOUNT, ttl)
    return None


def check(host: str, username: str) -> None:
    """Raise a temporary DeliveryError when signing in to `username` at `host` is paused (for a worker)."""
    pause = paused(host, username)
    if pause is None:
        return
    minutes = max(1, math.ceil(pause.seconds / 60))
    if pause.scope == HOST:
        reason = (
            f"Too many sign-ins to {host} through Outcry failed recently, so we paused signing in there for "
            f"about {minutes} minutes (it protects people whose passwords were stolen). Your letter waits and "
            "we'll try again."
        )
    else:
        reason = (
            f"Your mail server refused the password for {username} several times recently, so we paused signing "
            f"in to that account for about {minutes} minutes (so nobody can guess its password through Outcry). "
            "Your letter waits and we'll try again."
        )
    raise DeliveryError(reason, transient=True, kind="busy")


def spend(host: str, username: str) -> None:
    """Count one refused sign-in against `host` and against the account."""
    host, now = host.lower(), time.time()
    try:
        account = _account(host, username)
        pipe = get_redis().pipeline(transaction=False)
        names = [(_failures_key(slot, host), ttl) for slot, ttl in _slots("SMTP_AUTH_FAILURES", now)]
        names += [(_account_key(slot, account), ttl) for slot, ttl in _slots("SMTP_AUTH_FAILURES_PER_ACCOUNT", now)]
        for name, ttl in names:
            pipe.incr(name)
            pipe.expire(name, ttl)
        pipe.execute()
    except RedisError as exc:
        log.warning("auth_budget.unrecorded host=%s error=%s", host, type(exc).__name__)


def succeeded(host: str, username: str) -> None:
    """Count a successful sign-in to the account at `host` (once per account and window): room for others' typos."""
    host, now = host.lower(), time.time()
    try:
        account = _account(host, username)
        pipe = get_redis().pipeline(transaction=False)
        for slot, ttl in _slots("SMTP_AUTH_FAILURES", now):
            pipe.pfadd(_successes_key(slot, host), account)
            pipe.expire(_successes_key(slot, host), ttl)
        pipe.execute()
    except RedisError as exc:
        log.warning("auth_budget.unrecorded host=%s error=%s", host, type(exc).__name__)
