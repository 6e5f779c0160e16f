"""The per-process copies (webapp/core/versioned.py) as the campaign pages use them: an organizer's edit reaches
every worker on its next request, a change the version never heard of is seen once the copy is a minute old,
and while Redis is down the pages read the database. A poster page shows what the copy holds. (The Congress lookup's copy: tests/test_congress.py.)"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from tests.support.letters import LAUNCH
from tests.support.mailserver import free_port
from webapp.campaigns import cache
from webapp.core import versioned
from webapp.extensions import db
from webapp.models import Campaign


@pytest.fixture
def title(app):
    """The launch campaign's title; written back afterwards through the ORM, which tells every copy."""
    with app.app_context():
        original = db.session.scalar(select(Campaign.title).where(Campaign.slug == LAUNCH))
    yield original
    with app.app_context():
        db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH)).title = original
        db.session.commit()


@pytest.fixture
def clock(monkeypatch):
    """The copies' clock, moved by the test: `clock.now += 61`."""

    class Clock:
        now = 1000.0

    monkeypatch.setattr(versioned, "monotonic", lambda: Clock.now)
    return Clock


def page(client) -> str:
    """The campaign's poster: its title, from the copy (as the write, call and send pages read it)."""
    response = client.get(f"/c/{LAUNCH}/poster")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def edit_as_organizer(app, new_title: str) -> None:
    """What the workspace does: a change through the app's session, committed."""
    with app.app_context():
        db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH)).title = new_title
        db.session.commit()


def edit_in_bulk(app, new_title: str) -> None:
    """An UPDATE statement through the app's session (as a bulk change in a service), committed: no object is
    dirty, so only the statement tells the copies."""
    with app.app_context():
        db.session.execute(update(Campaign).where(Campaign.slug == LAUNCH).values(title=new_title))
        db.session.commit()


def edit_unannounced(app, new_title: str) -> None:
    """A change no version heard of (a statement on a connection of its own, as a bump lost to a Redis outage)."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(update(Campaign).where(Campaign.slug == LAUNCH).values(title=new_title))


def test_an_organizers_edit_reaches_another_worker_on_its_next_request(app, make_app, title, clock):
    worker = make_app().test_client()  # another gunicorn worker: a copy of its own, the same Redis and database
    assert title in page(worker)
    edit_as_organizer(app, "Families apart: write today")
    assert "Families apart: write today" in page(worker)  # no time has passed: the version told it


def test_a_bulk_statement_reaches_another_worker_on_its_next_request(app, make_app, title, clock):
    worker = make_app().test_client()
    assert title in page(worker)
    edit_in_bulk(app, "Families apart: changed by a statement")
    assert "Families apart: changed by a statement" in page(worker)  # no time has passed: the version told it


def test_a_change_no_version_told_is_seen_once_the_copy_is_a_minute_old(app, make_app, title, clock):
    worker = make_app().test_client()
    assert title in page(worker)
    edit_unannounced(app, "Families apart: a quiet edit")
    assert title in page(worker)  # the copy serves: no query told it
    clock.now += cache.MAX_AGE_SECONDS + 1
    assert "Families apart: a quiet edit" in page(worker)


def test_while_redis_is_down_the_pages_read_the_database(app, make_app, title, clock):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    worker = make_app(REDIS_URL=dead, CREDENTIALS_REDIS_URL=dead).test_client()
    assert title in page(worker)
    edit_unannounced(app, "Families apart: edited during an outage")
    assert "Families apart: edited during an outage" in page(worker)  # no copy can be called current


def test_a_build_that_finds_nothing_is_not_kept():
    versions = iter(["v1", "v1", "v1"])
    copies: versioned.VersionedCopies[str] = versioned.VersionedCopies(lambda: next(versions))
    assert copies.get("draft", lambda: None) is None
    assert copies.get("draft", lambda: "published") == "published"
    assert copies.get("draft", lambda: "rebuilt") == "published"


def test_the_source_is_asked_once_per_interval_and_again_after_a_clear(clock):
    asked = []

    def read_version():
        asked.append(clock.now)
        return "v1"

    copies: versioned.VersionedCopies[str] = versioned.VersionedCopies(read_version, check_every=5.0)
    for _ in range(3):
        assert copies.get(None, lambda: "snapshot") == "snapshot"
    clock.now += 5.0
    copies.get(None, lambda: "snapshot")
    copies.clear()
    assert copies.get(None, lambda: "after the load") == "after the load"
    assert asked == [1000.0, 1005.0, 1005.0]


def test_a_slow_build_holds_up_only_its_own_key():
    """One campaign whose rows come slowly (a lock in the database, a cold disk) holds up its own pages, not every
    other campaign's: builds wait for one another per key only."""
    copies: versioned.VersionedCopies[str] = versioned.VersionedCopies(lambda: "v1")
    building, release = threading.Event(), threading.Event()

    def slow() -> str:
        building.set()
        release.wait(300)
        return "slow campaign"

    first = threading.Thread(target=copies.get, args=("slow", slow), daemon=True)
    first.start()
    assert building.wait(30)
    other: list[str | None] = []
    second = threading.Thread(target=lambda: other.append(copies.get("quick", lambda: "quick campaign")), daemon=True)
    second.start()
    second.join(timeout=30)  # only catches a build left waiting: the slow one holds for 300 s
    held_up = second.is_alive()
    release.set()
    first.join(timeout=30)
    assert not held_up, "another key's build waited for the slow one"
    assert other == ["quick campaign"]
    assert copies.get("slow", lambda: "rebuilt") == "slow campaign"


def test_a_copy_built_while_the_data_changed_is_not_kept():
    """This process changed the data (and cleared the copies) while a build was reading: what that build read may be
    the old rows, so it is answered once and not kept."""
    copies: versioned.VersionedCopies[str] = versioned.VersionedCopies(lambda: "v1", check_every=5.0)
    cleared = []

    def build_across_a_change() -> str:
        # An organizer's commit in another thread, while this build read the old rows; it never waits for a build.
        commit = threading.Thread(target=lambda: cleared.append(copies.clear()), daemon=True)
        commit.start()
        commit.join(timeout=30)
        return "old rows"

    assert copies.get("launch", build_across_a_change) == "old rows"
    assert cleared == [None], "clearing the copies waited for a build"
    assert copies.get("launch", lambda: "new rows") == "new rows"
