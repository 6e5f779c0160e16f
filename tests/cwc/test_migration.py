"""Migration 0013 on a database of its own: existing letters get no topics, submissions no address; downgrading
removes both columns."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from webapp.extensions import db


def test_upgrade_gives_existing_letters_no_topics_and_downgrade_removes_the_columns(make_app, tmp_path):
    scratch = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'migrate.db'}")
    with scratch.app_context():
        upgrade(revision="0012")
        db.session.execute(
            text(
                "INSERT INTO campaigns (slug, title, summary, congress, published, position, created_at, updated_at) "
                "VALUES ('old', 'Old', '', 1, 1, 0, '2026-01-01', '2026-01-01')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO letter_templates (campaign_id, slug, name, subject, body, target_ids, target_kinds, "
                "channels, version, position, active, min_note_length, salutation_and_signoff) VALUES "
                "(1, 'l', 'Letter', 'S', 'B {{ supporter.note }}', '[]', '[\"senator\"]', '[\"print\"]', 1, 0, 1, 0, 0)"
            )
        )
        db.session.commit()
        upgrade(revision="0013")
        assert db.session.execute(text("SELECT cwc_topics FROM letter_templates")).scalar() in ("[]", [])
        columns = {c["name"] for c in inspect(db.engine).get_columns("submissions")}
        assert "constituent" in columns
        downgrade(revision="0012")
        assert "cwc_topics" not in {c["name"] for c in inspect(db.engine).get_columns("letter_templates")}
        assert "constituent" not in {c["name"] for c in inspect(db.engine).get_columns("submissions")}
