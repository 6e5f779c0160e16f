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
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, g, session
from redis.exceptions import RedisError

from webapp.extensions import get_redis

SESSION_KEY = "visit"
REDIS_PREFIX = "outcry:visit:"
DETAIL_FIELDS = ("name", "email", "zip", "address")
SMTP_FIELDS = ("provider", "smtp_host", "smtp_port", "smtp_security", "smtp_username")  # never the password
MAX_DRAFTS = 4  # letters open at once in one visit (tabs); the oldest is dropped
MAX_ACTIONS = 60  # submissions remembered for the receipt


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
    g.outcry_visit = Visit()
    if isinstance(held, dict) and isinstance(held.get("id"), str):
        # If Redis is unreachable the entry stays until it expires, but the key in the cookie is gone: unreadable.
        with contextlib.suppress(RedisError):
            get_redis().delete(REDIS_PREFIX + held["id"])
