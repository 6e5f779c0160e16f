"""Rate limits: per client address and organizer log-ins (Flask-Limiter), and a submission's budgets
(`check_submission`), all in Redis.

A submission spends from budgets that fit what it is:

- every submission, from one client address (`RATELIMIT_PER_ADDRESS`): a flood guard, sized for a
  letter-writing party of fifty on one Wi-Fi, a campus or a phone carrier's shared address;
- own-email letters, from one client address (`RATELIMIT_DELIVERIES_PER_ADDRESS`); from one sender
  (`RATELIMIT_PER_SENDER`), keyed on the mail account *and its password*, so only someone who can log in
  to that account spends it (a stranger typing an activist's address spends a budget of their own); and to
  one target through one campaign from everyone (`RATELIMIT_PER_TARGET`): what Outcry's mail may add to an
  inbox;
- hand-offs (mailto, contact form, call, print) to one target through one campaign, from one client address
  (`RATELIMIT_HANDOFFS_PER_TARGET`): they send nothing, so nobody's budget is shared with strangers, and no
  number of fake hand-offs blocks a target's letters or anyone else's hand-offs.

Every key is a keyed hash (HMAC with a secret derived from SECRET_KEY; the sender's from the credentials
key, which never sits with the data), so Redis never holds a raw client address, email address or anything
of a password, and every key expires with its window. IPv6 clients are counted per /64, the block one
subscriber usually gets. Organizers can raise a campaign's limits for a planned push (`lift`): while it
lasts, every budget but the sender's is counted in budgets of their own, RATELIMIT_LIFT_FACTOR times as
large.

If Redis cannot be reached the limits let requests through (and say so in the log): mail hand-offs
keep working, and own-email sending fails on its own without Redis.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Iterable
from functools import lru_cache

from flask import Flask, current_app, g, has_request_context, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from limits import RateLimitItem, parse_many
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from webapp.campaigns.service import find_campaign
from webapp.core import keys
from webapp.i18n import gettext, ngettext
from webapp.i18n import lazy_gettext as _l
from webapp.models import HANDOFF_CHANNELS, Campaign, utcnow

log = logging.getLogger(__name__)

EXTENSION = "outcry.limiter"
KEY_PREFIX = "outcry:ratelimit"  # under outcry:* like every other key the app writes
QUOTA_PREFIX = "outcry:quota"  # the submission budgets: keys of their own, in a layout this module owns
ACQUIRE_ALL_EXTENSION = "outcry.limiter.acquire_all"
SUBMISSIONS = "submissions"  # the shared scope of the submission endpoints
# The endpoints that create letters; they share one per-address budget, HTML and API alike.
SUBMISSION_ENDPOINTS = (
    "letters.send",
    "letters.calls",  # the call step-through: each call the supporter made is a submission (letters.call writes none)
    "letters.retry",
    "api.create_submission",
    # A failed letter sent again another way (its hand-offs, Congress's system with a corrected address), the API's too.
    "letters.another_way",
    "cwc.fix_address",
    "api.hand_off_letter",
)
# Never limited: the health checks (polled by monitoring and the orchestrator) and static files.
EXEMPT_ENDPOINTS = ("health.healthz", "health.livez", "static")
# Where an organizer's password is checked: the log-in, and the account page's password change and token minting
# (so a stolen session cookie cannot be used to guess the password either). Only failed passwords are counted.
PASSWORD_ENDPOINTS = ("organize.login", "organize.account", "organize.create_token")
LOGIN_SCOPES = ("login-pair", "login-address", "login-alarm")
# An account that collected this many failed passwords, from every address together, is under attack: while it
# is, each address gets only UNDER_ATTACK failures for it. An address without failures still gets in.
ACCOUNT_ALARM = "10 per hour"
UNDER_ATTACK = "2 per hour"
FAILED_PASSWORD_FLAG = "outcry_password_failed"  # noqa: S105 - a name, not a secret: the flag webapp/organizers/accounts.py sets on `g`


class RateLimited(TooManyRequests):
    """A budget of the submission is spent; `retry_after_seconds` says when to try again, and the message what
    the supporter can do meanwhile."""

    def __init__(self, retry_after_seconds: int, message: str):
        seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(description=message, retry_after=seconds)
        self.retry_after_seconds = seconds
        self.message = message


# ---- keys ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def pseudonym(kind: str, value: str) -> str:
    """A stable, secret-keyed stand-in for an address: the same value gives the same key, nothing reverses it."""
    key = keys.site_key("outcry rate-limit keys")
    return hmac.new(key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]


def client_network(remote_addr: str | None) -> str:
    """The address a client is counted by: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4."""
    try:
        ip = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def address_key() -> str:
    return "address/" + pseudonym("address", client_network(request.remote_addr))


# ---- organizer log-ins ---------------------------------------------------------------------------------------


def _login_account() -> str:
    """The account a password was tried for: the form's email on the log-in page, the organizer's own elsewhere."""
    if request.endpoint == "organize.login":
        return (request.form.get("email") or "").strip().lower()[:254]
    return (getattr(current_user, "email", "") or "").lower()


def login_pair_key() -> str:
    """One account from one client address: what failed passwords are counted by."""
    return "login/" + pseudonym("login", f"{_login_account()}\0{client_network(request.remote_addr)}")


def _account_key() -> str:
    return "login-account/" + pseudonym("login-account", _login_account())


def _failed_password(_response=None) -> bool:
    return bool(g.get(FAILED_PASSWORD_FLAG))


def _account_under_attack() -> bool:
    limiter = _limiter()
    if limiter is None:
        return False
    try:
        item = parse_many(ACCOUNT_ALARM)[0]
        return limiter.limiter.get_window_stats(item, _account_key(), "login-account").remaining == 0
    except RedisError:
        return False


def _count_account_failure(response):
    """After a failed password: one more for the account as a whole (which only decides `_account_under_attack`)."""
    limiter = _limiter()
    if limiter is not None and request.endpoint in PASSWORD_ENDPOINTS and _failed_password():
        try:
            limiter.limiter.hit(parse_many(ACCOUNT_ALARM)[0], _account_key(), "login-account")
        except RedisError as exc:
            log.warning("limits.unavailable check=login error=%s", type(exc).__name__)
    return response


# ---- lifting a campaign's limits ----------------------------------------------------------------------------


def lifted(campaign: Campaign | None, now: dt.datetime | None = None) -> bool:
    until = getattr(campaign, "limits_lifted_until", None)
    return until is not None and (now or utcnow()) < until


def lift(campaign: Campaign, until: dt.datetime | None) -> None:
    """Raise the campaign's per-address and per-target limits by RATELIMIT_LIFT_FACTOR until `until`
    (naive UTC); None ends a lift at once. The caller commits."""
    campaign.limits_lifted_until = until
    log.info("limits.lift campaign=%s until=%s", campaign.slug, until.isoformat() if until else "-")


def _factor(campaign: Campaign | None) -> int:
    return int(current_app.config["RATELIMIT_LIFT_FACTOR"]) if lifted(campaign) else 1


def scaled(limits: str, factor: int) -> str:
    """`"20 per hour;100 per day"` times 3 → `"60 per 1 hour;300 per 1 day"`."""
    if factor == 1:
        return limits
    return ";".join(
        f"{item.amount * factor} per {item.multiples} {item.GRANULARITY.name}" for item in parse_many(limits)
    )


def _requested_campaign() -> Campaign | None:
    """The campaign a submission request names: in the URL (HTML) or in the JSON body (API)."""
    slug = (request.view_args or {}).get("slug")
    if slug is None and request.is_json:
        length = request.content_length
        if length is not None and length <= (request.max_content_length or 0):  # this view's own limit
            # Silent: a malformed body (even one nested too deeply, webapp/security/bodies.py) names no
            # campaign and is counted against the plain budget; the view answers it with a 400.
            body = request.get_json(silent=True)
            slug = body.get("campaign") if isinstance(body, dict) else None
    if not isinstance(slug, str) or not slug or len(slug) > 80:
        return None
    return find_campaign(slug, page=False)  # the per-process copy: no query per request


def _submission_limit() -> str:
    return scaled(current_app.config["RATELIMIT_PER_ADDRESS"], _factor(_requested_campaign()))


# ---- a submission's budgets ----------------------------------------------------------------------------------

# What the supporter can do when a budget is spent, besides waiting (issue 14.7: shared networks are no abuse).
SHARED_CONNECTION = _l(
    "If you share this connection (a letter-writing event, a campus, an office, a phone network), everyone's "
    "letters count here together: another connection, such as your phone's mobile data, has its own allowance, "
    "and the campaign's organizers can raise the limit for an event."
)
OTHER_CHANNELS = _l(
    "You can still send your letter from your own mail program, print it or call: those don't count against this limit."
)


def _quota_key(kind: str, identity: str, item: RateLimitItem) -> str:
    return f"{QUOTA_PREFIX}:{kind}:{identity}:{item.amount}/{item.get_expiry()}"


def _client() -> str | None:
    """The pseudonym of the client's network, inside a request; None elsewhere (the CLI, a worker)."""
    if not has_request_context():
        return None
    return pseudonym("address", client_network(request.remote_addr))


def check_submission(campaign: Campaign, channel: str, target_ids: Iterable[str], sender: str | None = None) -> None:
    """Spend a submission's letters from its budgets, or raise RateLimited and spend nothing.

    Call it once per submission, after the input is valid and before anything is written. `sender` is the
    fingerprint of the mail account that will send own-email letters (`credentials.sender_fingerprint`):
    the sender budget is counted on it, so nobody without the account's password can spend it. All budgets
    are checked and counted in one step (one script in Redis), so simultaneous submissions cannot share out
    more than a budget holds, and a refused submission costs the supporter nothing.
    """
    limiter = _limiter()
    if limiter is None:
        return
    target_ids = list(target_ids)
    config = current_app.config
    factor = _factor(campaign)
    client = _client()
    checks: list[tuple[str, RateLimitItem, str, int]] = []
    if channel in HANDOFF_CHANNELS:
        if client is not None:
            for target_id in target_ids:
                identity = pseudonym("handoff", f"{campaign.id}\0{target_id}\0{client}")
                checks += [
                    ("handoff", item, identity, 1)
                    for item in parse_many(scaled(config["RATELIMIT_HANDOFFS_PER_TARGET"], factor))
                ]
    else:
        letters = len(target_ids)
        if client is not None:
            checks += [
                ("deliveries", item, client, letters)
                for item in parse_many(scaled(config["RATELIMIT_DELIVERIES_PER_ADDRESS"], factor))
            ]
        if sender:
            checks += [("sender", item, sender, letters) for item in parse_many(config["RATELIMIT_PER_SENDER"])]
        per_target = parse_many(scaled(config["RATELIMIT_PER_TARGET"], factor))
        for target_id in target_ids:
            identity = pseudonym("target", f"{campaign.id}\0{target_id}")
            checks += [("target", item, identity, 1) for item in per_target]
    if not checks:
        return
    try:
        refused = _acquire_all(checks)
    except RedisError as exc:
        log.warning("limits.unavailable check=submission error=%s", type(exc).__name__)
        return
    if not refused:
        return
    kinds = {checks[index][0] for index, _wait in refused}
    wait = max(wait for _index, wait in refused)
    log.info("limits.refused campaign=%s limits=%s", campaign.slug, ",".join(sorted(kinds)))
    when = gettext("Please try again in %(wait)s.", wait=in_words(wait))
    if "sender" in kinds:
        first = gettext("You have sent as many letters from this mail account as we allow for now.")
        message = f"{first} {when} {OTHER_CHANNELS}"
    elif "target" in kinds:
        first = gettext("The person you chose has received as many letters through this campaign as we send for now.")
        message = f"{first} {when} {OTHER_CHANNELS}"
    elif "deliveries" in kinds:
        first = gettext(
            "Many letters have been sent from your internet connection in a short time, so we paused sending from it."
        )
        message = f"{first} {when} {SHARED_CONNECTION} {OTHER_CHANNELS}"
    else:
        first = gettext("Many letters to the person you chose have come from your internet connection today.")
        message = f"{first} {when} {SHARED_CONNECTION}"
    raise RateLimited(wait, message)


# All or nothing, in one round trip: take `amount` entries in every moving window, or none when any of them is
# full. Each window is a list of time stamps, newest first and at most `limit` long, under a key of its own.
# Returns, for every full window, its 1-based index and the seconds until it has room. Checking first and
# counting after, as separate calls, would cost two round trips per window and let two concurrent submissions
# both pass the check.
ACQUIRE_ALL = """
local now = tonumber(ARGV[1])
local refused = {}
for i, key in ipairs(KEYS) do
    local limit, expiry, amount = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
    if amount > limit then
        refused[#refused + 1] = i
        refused[#refused + 1] = expiry
    else
        local entry = redis.call('lindex', key, limit - amount)
        if entry and tonumber(entry) > now - expiry then
            refused[#refused + 1] = i
            refused[#refused + 1] = math.ceil(tonumber(entry) + expiry - now)
        end
    end
end
if #refused > 0 then
    return refused
end
for i, key in ipairs(KEYS) do
    local limit, expiry, amount = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
    for _ = 1, amount do
        redis.call('lpush', key, now)
    end
    redis.call('ltrim', key, 0, limit - 1)
    redis.call('expire', key, expiry)
end
return refused
"""


def _acquire_all(checks: list[tuple[str, RateLimitItem, str, int]]) -> list[tuple[int, int]]:
    """Take every check's cost, or nothing: the (0-based index, seconds to wait) of each window that is full."""
    script = current_app.extensions[ACQUIRE_ALL_EXTENSION]
    keys = [_quota_key(kind, identity, item) for kind, item, identity, _cost in checks]
    arguments: list[float | int] = [time.time()]
    for _kind, item, _identity, cost in checks:
        arguments += [item.amount, item.get_expiry(), cost]
    answer = [int(value) for value in script(keys, arguments)]
    return [(answer[n] - 1, max(1, answer[n + 1])) for n in range(0, len(answer), 2)]


# ---- answering a 429 ----------------------------------------------------------------------------------------


def in_words(seconds: float) -> str:
    """How long to wait, the way a person would say it."""
    if seconds <= 60:
        return gettext("a minute")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    hours = math.ceil(seconds / 3600)
    return gettext("an hour") if hours == 1 else ngettext("about %(num)d hour", "about %(num)d hours", hours)


def retry_after(exc: TooManyRequests) -> int:
    """Seconds until the limit that refused this request lets it through again (at least 1)."""
    if isinstance(exc, RateLimited):
        return exc.retry_after_seconds
    limiter = _limiter()
    if isinstance(exc, RateLimitExceeded) and limiter is not None:
        current = limiter.current_limit
        if current is not None:
            try:
                return max(1, math.ceil(current.window.reset_time - time.time()))
            except RedisError:
                pass
    seconds = getattr(exc, "retry_after", None)
    return max(1, int(seconds)) if isinstance(seconds, int | float) else 60


def explain(exc: TooManyRequests, seconds: int) -> str:
    """The 429 message: why, and when to try again."""
    if isinstance(exc, RateLimited):
        return exc.message
    scope = getattr(getattr(exc, "limit", None), "scope", None)
    if scope == "login-alarm":
        return gettext(
            "This account has had many wrong passwords from several places, so each place gets only a few tries "
            "for now. Please wait %(wait)s and try again.",
            wait=in_words(seconds),
        )
    if scope in LOGIN_SCOPES:
        return gettext(
            "Too many wrong passwords from your connection. For your account's safety, please wait "
            "%(wait)s and try again.",
            wait=in_words(seconds),
        )
    if isinstance(exc, RateLimitExceeded) and scope == SUBMISSIONS:
        first = gettext(
            "Many letters have been sent from your internet connection in a short time, so we paused it to stop abuse."
        )
        return f"{first} {gettext('Please try again in %(wait)s.', wait=in_words(seconds))} {SHARED_CONNECTION}"
    first = gettext("Too many requests from your internet connection in a short time.")
    return f"{first} {gettext('Please try again in %(wait)s.', wait=in_words(seconds))} {SHARED_CONNECTION}"


# ---- wiring -------------------------------------------------------------------------------------------------


def storage_uri(redis_url: str) -> str:
    """The `limits` library spells a Redis unix socket `redis+unix://`; redis-py spells it `unix://`."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def _limiter() -> Limiter | None:
    limiter = current_app.extensions.get(EXTENSION)
    return limiter if limiter is not None and limiter.enabled else None


def init_app(app: Flask) -> None:
    """One Limiter per app (Flask-Limiter keeps its storage and switches on the instance, so a shared
    one would follow whichever app was set up last). Call after the blueprints are registered."""
    limiter = Limiter(
        key_func=address_key,
        storage_uri=storage_uri(app.config["REDIS_URL"]),
        storage_options={"key_prefix": KEY_PREFIX, "socket_timeout": 2, "socket_connect_timeout": 2},
        strategy="moving-window",
        swallow_errors=True,
        headers_enabled=False,  # the 429 handler in webapp/errors.py sets Retry-After itself
    )
    limiter.request_filter(lambda: request.endpoint in EXEMPT_ENDPOINTS)
    limiter.init_app(app)  # reads RATELIMIT_ENABLED and RATELIMIT_DEFAULT from the config
    app.extensions[EXTENSION] = limiter
    if not limiter.enabled:
        return
    # Registering computes the script's SHA1 here; redis-py loads it into Redis on first use (and again
    # after a Redis restart), like the library's own scripts.
    app.extensions[ACQUIRE_ALL_EXTENSION] = limiter.limiter.storage.get_connection().register_script(ACQUIRE_ALL)
    per_address = limiter.shared_limit(_submission_limit, scope=SUBMISSIONS, methods=["POST"])
    for endpoint in SUBMISSION_ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = per_address(app.view_functions[endpoint])
    # Organizer passwords: only failures are counted (deduct_when), per account and client address, per address
    # whatever the account (one address trying many accounts), and, while an account is under attack from many
    # addresses, per account and address again with a small allowance. None of them counts the account alone.
    password_limits = [
        limiter.shared_limit(
            lambda: current_app.config["RATELIMIT_LOGIN"],
            scope="login-pair",
            key_func=login_pair_key,
            deduct_when=_failed_password,
            methods=["POST"],
            override_defaults=False,
        ),
        limiter.shared_limit(
            lambda: current_app.config["RATELIMIT_LOGIN_ADDRESS"],
            scope="login-address",
            key_func=address_key,
            deduct_when=_failed_password,
            methods=["POST"],
            override_defaults=False,
        ),
        limiter.shared_limit(
            UNDER_ATTACK,
            scope="login-alarm",
            key_func=login_pair_key,
            deduct_when=_failed_password,
            exempt_when=lambda: not _account_under_attack(),
            methods=["POST"],
            override_defaults=False,
        ),
    ]
    for endpoint in PASSWORD_ENDPOINTS:
        if endpoint in app.view_functions:
            for decorate in password_limits:
                app.view_functions[endpoint] = decorate(app.view_functions[endpoint])
    app.after_request(_count_account_failure)
