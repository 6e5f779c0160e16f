"""A per-process copy of each published campaign's letters and targets, kept fresh by a version in Redis.

Every letter a supporter writes needs its campaign, the campaign's letters and its targets: three queries
that return the same rows for days. This keeps them per process (in webapp/core/versioned.py's copies) and
merges them into the request's session without SQL. Any commit that touched a campaign, letter or target
(through the ORM or a bulk statement) bumps a version in Redis; every process compares its copy's version on
each use (one Redis round trip), so an organizer's edit reaches every gunicorn worker on the next request.
While Redis is down every use reads the database.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from itertools import chain

from flask import current_app, g, has_app_context, has_request_context
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from webapp.core.versioned import VersionedCopies, VersionUnknown
from webapp.extensions import db, get_redis
from webapp.models import Campaign, CampaignTarget, LetterTemplate, Target

VERSION_KEY = "outcry:campaigns:version"
CACHED_MODELS = (Campaign, CampaignTarget, LetterTemplate, Target)
_CHANGED = "outcry.campaigns_changed"


# A copy is also reloaded after this long, whatever the version says: a bump lost while Redis was down
# (see _publish_change) then costs at most this much staleness.
MAX_AGE_SECONDS = 60.0


def _redis_version() -> object:
    try:
        return get_redis().get(VERSION_KEY)
    except RedisError as error:
        raise VersionUnknown from error


class CampaignCache:
    def __init__(self) -> None:
        self._copies: VersionedCopies[Campaign] = VersionedCopies(_redis_version, max_age=MAX_AGE_SECONDS)

    def find(self, slug: str, load: Callable[[Session], Campaign | None]) -> Campaign | None:
        """The campaign `load` finds, attached to the request's session; from the copy when it is current.

        Within one request the same object is returned again (the rate limit and the view both ask).
        """
        found = g.setdefault("outcry_campaigns", {}) if has_request_context() else {}
        if slug not in found:
            found[slug] = self._find(slug, load)
        return found[slug]

    def _find(self, slug: str, load: Callable[[Session], Campaign | None]) -> Campaign | None:
        def load_detached() -> Campaign | None:
            with Session(db.engine) as session:
                return load(session)

        try:
            campaign = self._copies.get(slug, load_detached)
        except VersionUnknown:
            return load(db.session)  # no way to know the copy is current: ask the database
        return None if campaign is None else db.session.merge(campaign, load=False)

    def clear(self) -> None:
        self._copies.clear()


def init_app(app) -> None:
    """A copy per app, and the listeners that notice campaign changes on the app's sessions (`db.session`: one
    per process, so they are added once however many apps a process builds)."""
    app.extensions["campaign_cache"] = CampaignCache()
    for name, listener in _LISTENERS:
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)


def get_cache() -> CampaignCache:
    return current_app.extensions["campaign_cache"]


def _touches_campaigns(objects) -> bool:
    return any(isinstance(obj, CACHED_MODELS) for obj in objects)


def _note_orm_changes(session: Session, _context) -> None:
    if _touches_campaigns(chain(session.new, session.dirty, session.deleted)):
        session.info[_CHANGED] = True


def _note_bulk_changes(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and state.bind_mapper is not None and issubclass(state.bind_mapper.class_, CACHED_MODELS):
        state.session.info[_CHANGED] = True


def _publish_change(session: Session) -> None:
    if not session.info.pop(_CHANGED, False) or not has_app_context():
        return
    current_app.extensions["campaign_cache"].clear()
    # If Redis is down, other processes read from the database meanwhile, and MAX_AGE_SECONDS bounds
    # how long a copy they made before the outage may outlive this change.
    # A fresh random value rather than a counter: a version that was deleted (a flush of Redis, a test's
    # clean-up) and counted up again could repeat an old number and pass off an old copy as current.
    with contextlib.suppress(RedisError):
        get_redis().set(VERSION_KEY, uuid.uuid4().hex)


def _forget_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)


_LISTENERS = (
    ("after_flush", _note_orm_changes),
    ("do_orm_execute", _note_bulk_changes),
    ("after_commit", _publish_change),
    ("after_rollback", _forget_change),
)
