"""Communicating with Congress: Library of Congress topics per letter, and the postal address a CWC letter carries

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letter_templates") as batch:
        batch.add_column(sa.Column("cwc_topics", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("constituent", sa.JSON(), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, which its
    # foreign keys (on in this app) refuse while anything points at it. SQLite has had DROP COLUMN since 3.35.
    op.drop_column("submissions", "constituent")
    op.drop_column("letter_templates", "cwc_topics")
