"""privacy and abuse resistance: purge marker on submissions, per-campaign rate-limit lift

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
        # The retention purge looks for old submissions; without this it reads the whole table.
        batch.create_index("ix_submissions_created_at", ["created_at"])
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("limits_lifted_until", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("limits_lifted_until")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_created_at")
        batch.drop_column("purged_at")
