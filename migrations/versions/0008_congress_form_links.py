"""contact-form links organizers enter for members of Congress, kept by `flask congress load`

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "congress_form_links",
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("data_url", sa.String(length=500), nullable=True),
        sa.Column("entered_by", sa.String(length=254), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"]),
        sa.PrimaryKeyConstraint("target_id"),
    )


def downgrade():
    op.drop_table("congress_form_links")
