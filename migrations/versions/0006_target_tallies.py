"""running totals per campaign and target, so totals cost one row per target; an index for /healthz

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COUNTERS = ("sent", "handed_off", "failed", "confirmed")


def upgrade():
    op.create_table(
        "target_tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "target_id"),
    )
    # Start from what the daily counters already hold, so no letter counted so far is lost.
    sums = ", ".join(f"SUM({name})" for name in COUNTERS)
    # The column names are this module's constants, not input.
    copy = (
        f"INSERT INTO target_tallies (campaign_id, target_id, {', '.join(COUNTERS)}) "  # noqa: S608
        f"SELECT campaign_id, target_id, {sums} FROM letter_tallies GROUP BY campaign_id, target_id"
    )
    op.execute(copy)
    op.create_index("ix_letters_status_created", "letters", ["status", "created_at"])


def downgrade():
    op.drop_index("ix_letters_status_created", table_name="letters")
    op.drop_table("target_tallies")
