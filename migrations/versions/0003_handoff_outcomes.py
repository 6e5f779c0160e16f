"""hand-off outcomes: what the supporter said happened, and when

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("confirmed_at")
        batch.drop_column("outcome")
