"""an index for counting letters per template and version (the workspace's Letters and Versions pages)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_letters_template_version", "letters", ["template_id", "template_version"])


def downgrade():
    op.drop_index("ix_letters_template_version", table_name="letters")
