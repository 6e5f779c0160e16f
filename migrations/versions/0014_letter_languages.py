"""letters in several languages: each template's own language and its translations (kept in its versions too),
the language a submission's letters were written in, and campaigns' own words in other languages

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("letter_templates", "letter_template_versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default="en"))
            batch.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default="en"))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))


def downgrade():
    # ALTER TABLE … DROP COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, which its
    # foreign keys (on in this app) refuse while any letter or submission points at it. SQLite has had DROP COLUMN
    # since 3.35.
    op.drop_column("campaigns", "translations")
    op.drop_column("submissions", "language")
    for table in ("letter_templates", "letter_template_versions"):
        op.drop_column(table, "translations")
        op.drop_column(table, "language")
