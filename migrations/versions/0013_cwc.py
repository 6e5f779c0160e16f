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
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("constituent")
    with op.batch_alter_table("letter_templates") as batch:
        batch.drop_column("cwc_topics")
