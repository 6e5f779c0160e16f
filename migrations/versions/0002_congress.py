"""congress: ZIP → district pairs, district offices, and the loaded data's version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:12:54.420841

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "congress_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "congress_zips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zip", sa.String(length=5), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("district", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("zip_type", sa.String(length=12), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_congress_zips_zip", "congress_zips", ["zip"], unique=False)
    op.create_table(
        "congress_offices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("suite", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("fax", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["target_id"], ["targets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_congress_offices_target", "congress_offices", ["target_id"], unique=False)


def downgrade():
    op.drop_index("ix_congress_offices_target", table_name="congress_offices")
    op.drop_table("congress_offices")
    op.drop_index("ix_congress_zips_zip", table_name="congress_zips")
    op.drop_table("congress_zips")
    op.drop_table("congress_dataset")
