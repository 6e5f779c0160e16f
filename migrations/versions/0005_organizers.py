"""organizer workspace: organizers, campaign members, API tokens, template versions; closed campaigns,
minimum personal-note length, and the fingerprint of the files a campaign was last loaded from

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organizers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("session_token"),
    )
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "organizer_id"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "letter_template_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("target_kinds", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("min_note_length", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["letter_templates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("template_id", "version"),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("files_digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("letter_templates") as batch:
        batch.add_column(sa.Column("min_note_length", sa.Integer(), nullable=False, server_default="0"))
    # Every template that exists keeps its current text as its first kept version.
    op.execute(
        """
        INSERT INTO letter_template_versions
            (template_id, version, name, subject, body, target_ids, target_kinds, channels,
             min_note_length, created_at, author, note)
        SELECT id, version, name, subject, body, target_ids, target_kinds, channels,
               0, CURRENT_TIMESTAMP, 'files', ''
        FROM letter_templates
        """
    )


def downgrade():
    with op.batch_alter_table("letter_templates") as batch:
        batch.drop_column("min_note_length")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("files_digest")
        batch.drop_column("closed_at")
    op.drop_table("letter_template_versions")
    op.drop_table("api_tokens")
    op.drop_table("campaign_members")
    op.drop_table("organizers")
