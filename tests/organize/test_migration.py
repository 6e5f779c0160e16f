"""Migration 0005 on a database of its own: templates that exist keep their text as a first version, and
downgrading removes everything it added."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from webapp.extensions import db


def test_upgrade_keeps_existing_templates_as_versions_and_downgrade_undoes_it(make_app, tmp_path):
    scratch = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'migrate.db'}")
    with scratch.app_context():
        upgrade(revision="0004")
        db.session.execute(
            text(
                "INSERT INTO campaigns (slug, title, summary, congress, published, position, created_at, updated_at) "
                "VALUES ('old', 'Old', '', 0, 1, 0, '2026-01-01', '2026-01-01')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO letter_templates (campaign_id, slug, name, subject, body, target_ids, target_kinds, channels, "
                "version, position, active) VALUES (1, 'l', 'Letter', 'S', 'B {{ supporter.note }}', '[]', "
                "'[\"ceo\"]', '[\"mailto\"]', 4, 0, 1)"
            )
        )
        db.session.commit()
        upgrade(revision="0005")
        row = db.session.execute(
            text("SELECT version, subject, author, min_note_length FROM letter_template_versions")
        ).one()
        assert tuple(row) == (4, "S", "files", 0)
        assert db.session.execute(
            text("SELECT min_note_length, files_digest FROM letter_templates, campaigns")
        ).one() == (0, None)
        downgrade(revision="0004")
        tables = set(inspect(db.engine).get_table_names())
        assert not tables & {"organizers", "campaign_members", "api_tokens", "letter_template_versions"}
        assert "closed_at" not in {c["name"] for c in inspect(db.engine).get_columns("campaigns")}
        upgrade()
