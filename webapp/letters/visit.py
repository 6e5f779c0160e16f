"""A supporter's visit: their details asked once, their drafts kept between pages, and what they did, for a few hours.

A visit lives in Redis, encrypted with a key that only the supporter's browser holds (in the signed session cookie,
beside the visit's id). The server never keeps that key: when the visit ends (VISIT_LIFETIME after its last step, or
when the supporter asks to forget it) the Redis entry expires or is deleted, and whatever an append-only file still
holds of it can be read by nobody, the operator included. What the visit points at (the submissions) follows the
retention rules of every submission.

Without Redis a visit cannot be kept: `current()` then hands out an empty one that `save()` cannot store, and the
pages fall back to asking again and to rendering the preview in answer to the POST.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, g, has_request_context, session
from redis.exceptions import RedisError

from webapp.extensions import get_redis

SESSION_KEY = "visit"
REDIS_PREFIX = "outcry:visit:"
DETAIL_FIELDS = ("name", "email", "zip", "address")
SMTP_FIELDS = ("provider", "smtp_host", "smtp_port", "smtp_security", "smtp_username")  # never the password
MAX_DRAFTS = 4  # letters open at once in one visit (tabs); the oldest is dropped
MAX_ACTIONS = 60  # submissions remembered for the receipt
CLAIM_PREFIX = "outcry:once:"  # a draft claimed by the send that wrote its letters, a call by the tap that counted it
SENDING = b"sending"  # claimed by a send still in flight
SENDING_LIFETIME = 60  # seconds a claim in flight holds, should its request die before it settles
CLAIM_WAIT = 10.0  # seconds a second send of the same draft waits for the first to settle


@dataclass
class Visit:
    id: str | None = None
    key: bytes | None = None
    data: dict[str, Any] = field(default_factory=dict)
    available: bool = True  # False: Redis could not be reached, so nothing can be kept

    # ---- the supporter's details ------------------------------------------------------------------------------

    @property
    def details(self) -> dict[str, str]:
        return dict(self.data.get("details") or {})

    def remember_details(self, **values: str) -> None:
        details = self.details
        details.update({k: v for k, v in values.items() if k in DETAIL_FIELDS and v is not None})
        self.data["details"] = details

    @property
    def smtp(self) -> dict[str, Any]:
        return dict(self.data.get("smtp") or {})

    def remember_smtp(self, values: dict[str, Any]) -> None:
        self.data["smtp"] = {k: values[k] for k in SMTP_FIELDS if values.get(k) not in (None, "")}

    # ---- drafts: a letter between the write page, the preview and the send ---------------------------------

    def draft(self, draft_id: str | None) -> dict[str, Any] | None:
        return (self.data.get("drafts") or {}).get(draft_id or "")

    def save_draft(self, draft: dict[str, Any], draft_id: str | None = None) -> str:
        drafts = dict(self.data.get("drafts") or {})
        draft_id = draft_id if draft_id in drafts else secrets.token_urlsafe(9)
        drafts[draft_id] = {**draft, "at": time.time()}
        while len(drafts) > MAX_DRAFTS:
            drafts.pop(min(drafts, key=lambda key: drafts[key]["at"]))
        self.data["drafts"] = drafts
        return draft_id

    def drop_draft(self, draft_id: str | None) -> None:
        (self.data.get("drafts") or {}).pop(draft_id or "", None)

    # ---- what was done ----------------------------------------------------------------------------------------

    def record(self, campaign_slug: str, submission_id: str) -> None:
        done = [entry for entry in self.data.get("done") or [] if entry["submission"] != submission_id]
        done.append({"campaign": campaign_slug, "submission": submission_id})
        self.data["done"] = done[-MAX_ACTIONS:]

    def submission_ids(self, campaign_slug: str | None = None) -> list[str]:
        return [
            entry["submission"]
            for entry in self.data.get("done") or []
            if campaign_slug is None or entry["campaign"] == campaign_slug
        ]

    def has(self, submission_id: str) -> bool:
        return submission_id in self.submission_ids()

    # ---- calls, stepped through one office after another ------------------------------------------------------

    def calls(self, campaign_slug: str) -> dict[str, Any]:
        return dict((self.data.get("calls") or {}).get(campaign_slug) or {})

    def set_calls(self, campaign_slug: str, calls: dict[str, Any]) -> None:
        self.data["calls"] = {**(self.data.get("calls") or {}), campaign_slug: calls}

    def call_outcomes(self, campaign_slug: str) -> dict[str, str]:
        """target id → what the supporter said happened on their last try (called, voicemail, busy, skipped)."""
        return dict(self.calls(campaign_slug).get("outcomes") or {})


def _lifetime() -> int:
    return int(current_app.config["VISIT_LIFETIME"])


def current() -> Visit:
    """This request's visit: the stored one, or a new empty one (stored only when `save` is called)."""
    if "outcry_visit" in g:
        return g.outcry_visit
    visit = _load()
    g.outcry_visit = visit
    return visit


def _load() -> Visit:
    held = session.get(SESSION_KEY)
    if not (isinstance(held, dict) and isinstance(held.get("id"), str) and isinstance(held.get("key"), str)):
        return Visit()
    try:
        token = get_redis().getex(REDIS_PREFIX + held["id"], ex=_lifetime())
    except RedisError:
        return Visit(available=False)
    if token is None:  # expired, or forgotten from another tab
        return Visit()
    try:
        data = json.loads(Fernet(held["key"].encode()).decrypt(token))
    except (InvalidToken, ValueError):
        return Visit()
    return Visit(held["id"], held["key"].encode(), data if isinstance(data, dict) else {})


def save(visit: Visit) -> bool:
    """Store the visit for VISIT_LIFETIME more seconds; False when it could not be kept (Redis unreachable)."""
    if not visit.available:
        return False
    if visit.id is None or visit.key is None:
        visit.id, visit.key = secrets.token_urlsafe(18), Fernet.generate_key()
    token = Fernet(visit.key).encrypt(json.dumps(visit.data, separators=(",", ":")).encode())
    try:
        get_redis().set(REDIS_PREFIX + visit.id, token, ex=_lifetime())
    except RedisError:
        visit.available = False
        return False
    session[SESSION_KEY] = {"id": visit.id, "key": visit.key.decode()}
    g.outcry_visit = visit
    return True


def end() -> None:
    """Forget this visit now: its details, drafts and list of what was done (the submissions themselves stay)."""
    held = session.pop(SESSION_KEY, None)
    session.pop(SENT_SESSION_KEY, None)
    g.outcry_visit = Visit()
    if isinstance(held, dict) and isinstance(held.get("id"), str):
        # If Redis is unreachable the entry stays until it expires, but the key in the cookie is gone: unreadable.
        with contextlib.suppress(RedisError):
            get_redis().delete(REDIS_PREFIX + held["id"])


# ---- done once: a letter sent, a call counted -----------------------------------------------------------------
# A double tap on Send or on "I called", or the same preview sent from two tabs, arrives as two requests that may both
# load the visit before either saves it: what they would do is claimed in Redis with SET NX, so one of them does it
# and the other answers with its result. A claim's key is named with the browser's key (an HMAC), and what it holds
# is encrypted with it, so Redis alone links no visit to any letter.


class StillSending(Exception):
    """The first send of this draft has not settled within CLAIM_WAIT seconds."""


def _claim_key(visit: Visit, *what: str) -> str | None:
    """The Redis key of a claim on `what`; None when there is nothing to claim (no kept visit, or nothing named)."""
    if not (all(what) and visit.available and visit.id and visit.key):
        return None
    return CLAIM_PREFIX + hmac.new(visit.key, "\0".join(what).encode(), hashlib.sha256).hexdigest()


def _sent_key(visit: Visit, draft_id: str | None) -> str | None:
    return _claim_key(visit, "draft", draft_id or "")


def _call_key(visit: Visit, campaign_slug: str, target_id: str) -> str | None:
    """A call's answer is claimed once a round of calls: a new round counts the same office again."""
    return _claim_key(visit, "call", campaign_slug, visit.calls(campaign_slug).get("round", ""), target_id)


def claim_call(visit: Visit, campaign_slug: str, target_id: str) -> bool:
    """Claim the answer to this call, in this round of calls: True for the one request that records it (and when
    nothing can be claimed: no kept visit, no Redis), False for a second tap while the claim holds."""
    key = _call_key(visit, campaign_slug, target_id)
    try:
        return key is None or bool(get_redis().set(key, b"1", nx=True, ex=_lifetime()))
    except RedisError:
        return True


def release_call(visit: Visit, campaign_slug: str, target_id: str) -> None:
    """The answer could not be recorded (refused, or too many at once): the next tap may record it."""
    key = _call_key(visit, campaign_slug, target_id)
    if key is not None:
        with contextlib.suppress(RedisError):
            get_redis().delete(key)


# The last drafts this browser sent, and as which submission, also kept in its (signed) session cookie: when Redis
# went away between writing the letters and settling the claim, or is away when the same preview is sent again,
# the cookie still says the letter was written, so no second one is.
SENT_SESSION_KEY = "sent"
SENT_KEPT = 5


def _sent_in_cookie(draft_id: str | None) -> str | None:
    if not has_request_context():
        return None
    held = session.get(SENT_SESSION_KEY)
    sent = held.get(draft_id or "") if isinstance(held, dict) else None
    return sent if isinstance(sent, str) else None


def _remember_sent_in_cookie(draft_id: str | None, submission_id: str) -> None:
    if not (draft_id and has_request_context()):
        return
    held = session.get(SENT_SESSION_KEY)
    kept = {k: v for k, v in (held.items() if isinstance(held, dict) else ()) if k != draft_id}
    session[SENT_SESSION_KEY] = {**dict(list(kept.items())[-(SENT_KEPT - 1) :]), draft_id: submission_id}


def draft_sent_as(visit: Visit, draft_id: str | None) -> str | None:
    """The submission this draft was sent as, if it was (None too while its send is in flight, or without Redis and
    the cookie's record)."""
    cookie = _sent_in_cookie(draft_id)
    if cookie:
        return cookie
    key = _sent_key(visit, draft_id)
    try:
        held = get_redis().get(key) if key else None
        return Fernet(visit.key or b"").decrypt(held).decode() if held and held != SENDING else None
    except (RedisError, InvalidToken, ValueError):
        return None


def claim_draft(visit: Visit, draft_id: str | None) -> str | None:
    """Claim the draft for this send: None when this request is the one to send it (or nothing can be claimed: no
    kept visit, no Redis), else the id of the submission another request already sent it as, waiting up to
    CLAIM_WAIT seconds for that one to settle (StillSending if it has not). Settle the claim with `settle_draft`."""
    cookie = _sent_in_cookie(draft_id)
    if cookie:  # sent already, as the browser's cookie remembers even while Redis is out of reach
        return cookie
    key = _sent_key(visit, draft_id)
    deadline = time.monotonic() + CLAIM_WAIT
    try:
        while key and not get_redis().set(key, SENDING, nx=True, ex=SENDING_LIFETIME):
            sent = draft_sent_as(visit, draft_id)
            if sent:
                return sent
            if time.monotonic() > deadline:
                raise StillSending
            time.sleep(0.1)  # the other send is writing the letters; it settles in well under a second
    except RedisError:
        pass  # the visit itself is out of reach: sent as if it could not be kept
    return None


def settle_draft(visit: Visit, draft_id: str | None, submission_id: str | None) -> None:
    """The claimed send is done: sent as `submission_id` (kept as long as a visit is), or refused (None), which
    frees the draft to be corrected and sent."""
    if submission_id is not None:
        _remember_sent_in_cookie(draft_id, submission_id)
    key = _sent_key(visit, draft_id)
    if key is None or visit.key is None:
        return
    with contextlib.suppress(RedisError):
        if submission_id is None:
            get_redis().delete(key)
        else:
            get_redis().set(key, Fernet(visit.key).encrypt(submission_id.encode()), ex=_lifetime())
