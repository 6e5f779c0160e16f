"""letters whose salutation and sign-off Outcry adds: a flag on templates and on their kept versions

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("letter_templates", "letter_template_versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("salutation_and_signoff", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade():
    for table in ("letter_templates", "letter_template_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("salutation_and_signoff")
