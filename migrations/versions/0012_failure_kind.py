"""whose problem a failed letter was: letters.failure_kind (a wrong password is not the target's problem)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("failure_kind", sa.String(20), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, which its
    # foreign keys (on in this app) refuse while anything points at it. SQLite has had DROP COLUMN since 3.35.
    op.drop_column("letters", "failure_kind")
