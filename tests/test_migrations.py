"""The migrations on a database of their own, of the suite's kind (SQLite, or PostgreSQL in CI's second run, in a
schema of its own): every one goes down and up again with data in the tables, and 0006's backfill turns the
daily counts that exist into the running totals."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from webapp.extensions import db

COUNTERS = ("sent", "handed_off", "failed", "confirmed")


@pytest.fixture
def scratch(make_app, database_url, tmp_path):
    """An app on an empty database: a SQLite file, or a PostgreSQL schema that is dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'migrations.db'}")
        return
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(make_app().config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in database_url else "?"
    try:
        yield make_app(DATABASE_URL=f"{database_url}{separator}options=-csearch_path%3D{schema}")
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def insert(table_name: str, **values) -> None:
    """A row with `values`, every other required column filled with a plain value of its type."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=db.session.connection())
    row = {}
    for column in table.columns:
        if (
            column.name in values
            or column.nullable
            or column.server_default is not None
            or column.autoincrement is True
        ):
            continue
        kind = column.type.python_type if not isinstance(column.type, sa.JSON) else list
        row[column.name] = {str: "x", bool: False, int: 0, float: 0.0, dt.datetime: dt.datetime(2026, 6, 1), dt.date:
                            dt.date(2026, 6, 1), list: []}[kind]  # fmt: skip
    db.session.execute(table.insert().values(**{**row, **values}))


def tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_the_daily_counts_become_the_running_totals_in_0006(scratch):
    with scratch.app_context():
        upgrade(revision="0005")
        insert("campaigns", id=1, slug="old", title="Old", summary="", congress=False, published=True)
        for target in ("ceo", "un"):
            insert("targets", id=target, kind="ceo", name=target)
        for template in (1, 2):
            insert("letter_templates", id=template, campaign_id=1, slug=f"t{template}", name="T", subject="S",
                   body="B", target_ids=[], target_kinds=[], channels=["mailto"], version=1)  # fmt: skip
        daily = [
            ("ceo", 1, "smtp", dt.date(2026, 6, 1), (3, 0, 1, 0)),
            ("ceo", 2, "mailto", dt.date(2026, 6, 1), (0, 5, 0, 2)),
            ("ceo", 1, "smtp", dt.date(2026, 6, 2), (4, 0, 0, 0)),
            ("un", 2, "mailto", dt.date(2026, 6, 2), (0, 7, 0, 3)),
        ]
        for target, template, channel, day, counts in daily:
            insert("letter_tallies", campaign_id=1, target_id=target, template_id=template, channel=channel, day=day,
                   **dict(zip(COUNTERS, counts, strict=True)))  # fmt: skip
        db.session.commit()
        upgrade(revision="0006")
        totals = db.session.execute(
            sa.text("SELECT target_id, sent, handed_off, failed, confirmed FROM target_tallies")
        )
        assert sorted(tuple(row) for row in totals) == [("ceo", 7, 5, 1, 2), ("un", 0, 7, 0, 3)]
        db.session.remove()


def test_every_migration_goes_down_and_up_again(scratch):
    with scratch.app_context():
        upgrade()
        head = tables()
        assert {"campaigns", "letters", "organizers", "organizer_sessions"} <= head
        insert("organizers", id=1, email="someone@example.org", password_hash="x", role="admin", active=True)
        insert("organizer_sessions", organizer_id=1, token_hash="a" * 64)
        db.session.commit()
        downgrade(revision="base")
        assert tables() == set()
        upgrade()
        assert tables() == head
        db.session.remove()


def test_the_models_and_the_migrations_agree(scratch):
    """A database migrated to head has exactly the tables, columns, types, indexes and keys the models declare:
    a model changed without its migration (or a migration without its model) shows up here, on SQLite and on
    PostgreSQL alike."""
    with scratch.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        db.session.remove()
    assert differences == []


def test_0014_gives_existing_letters_and_submissions_english_and_goes_down_again(scratch):
    """Letters in several languages: what existed is in English with no translations; going down removes it all."""
    with scratch.app_context():
        upgrade(revision="0013")
        insert("campaigns", id=1, slug="old", title="Old")
        insert("letter_templates", id=1, campaign_id=1, slug="l", name="Letter", body="B {{ supporter.note }}")
        insert("letter_template_versions", template_id=1, version=1, name="Letter", body="B")
        insert("submissions", id="s" * 32, campaign_id=1, template_id=1, channel="print")
        db.session.commit()
        upgrade(revision="0014")
        read = db.session.execute
        assert read(sa.text("SELECT language FROM letter_templates")).scalar() == "en"
        assert read(sa.text("SELECT language FROM letter_template_versions")).scalar() == "en"
        assert read(sa.text("SELECT language FROM submissions")).scalar() == "en"
        for table in ("letter_templates", "letter_template_versions", "campaigns"):
            assert read(sa.text(f"SELECT translations FROM {table}")).scalar() in ("{}", {}), table
        db.session.commit()
        downgrade(revision="0013")
        columns = {
            table: {column["name"] for column in sa.inspect(db.session.connection()).get_columns(table)}
            for table in ("letter_templates", "letter_template_versions", "submissions", "campaigns")
        }
        assert not any({"language", "translations"} & names for names in columns.values()), columns
        db.session.remove()


def test_the_latest_migrations_go_down_with_letters_in_the_database(scratch):
    """0011–0014 add columns to tables that letters and submissions point at; going down must not copy those tables
    (SQLite's batch copy drops the old table, which the foreign keys refuse while anything points at it)."""
    with scratch.app_context():
        upgrade()
        insert("campaigns", id=1, slug="old", title="Old")
        insert("letter_templates", id=1, campaign_id=1, slug="l", name="Letter", body="B")
        insert("letter_template_versions", template_id=1, version=1, name="Letter", body="B")
        insert("targets", id="t", name="T")
        insert("submissions", id="s" * 32, campaign_id=1, template_id=1, channel="print")
        insert(
            "letters", id="l" * 32, submission_id="s" * 32, campaign_id=1, target_id="t", template_id=1, channel="print"
        )
        db.session.commit()
        downgrade(revision="0010")
        inspector = sa.inspect(db.session.connection())
        names = {table: {column["name"] for column in inspector.get_columns(table)} for table in
                 ("campaigns", "letters", "submissions", "letter_templates")}  # fmt: skip
        added = {"embed_origins", "failure_kind", "constituent", "cwc_topics", "language", "translations"}
        assert not any(added & columns for columns in names.values()), names
        assert db.session.execute(sa.text("SELECT count(*) FROM letters")).scalar() == 1
        db.session.commit()
        upgrade()
        db.session.remove()
