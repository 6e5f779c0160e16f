"""the sites each campaign's embeddable page may be framed by (frame-ancestors), one list per campaign

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # ALTER TABLE … ADD COLUMN, not a batch: a batch on SQLite copies the table for a default given as SQL text,
    # and dropping the old campaigns table is refused while any letter points at it.
    op.add_column("campaigns", sa.Column("embed_origins", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    # ALTER TABLE … DROP COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, which its
    # foreign keys (on in this app) refuse while anything points at it. SQLite has had DROP COLUMN since 3.35.
    op.drop_column("campaigns", "embed_origins")
