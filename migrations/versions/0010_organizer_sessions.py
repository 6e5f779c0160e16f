"""organizer log-ins kept on the server (logging out ends the session itself, not only the cookie), replacing
the per-organizer session token

Revision ID: 0010
Revises: 0009
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organizer_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_organizer_sessions_organizer_id", "organizer_sessions", ["organizer_id"])
    # Every organizer logs in again once: the old cookies named the token this drops.
    with op.batch_alter_table("organizers") as batch:
        batch.drop_column("session_token")


def downgrade():
    with op.batch_alter_table("organizers") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=64), nullable=True))
    organizers = sa.table("organizers", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    connection = op.get_bind()
    for (organizer_id,) in connection.execute(sa.select(organizers.c.id)).all():
        connection.execute(
            organizers.update().where(organizers.c.id == organizer_id).values(session_token=secrets.token_urlsafe(24))
        )
    with op.batch_alter_table("organizers") as batch:
        batch.alter_column("session_token", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_organizers_session_token", ["session_token"])
    op.drop_index("ix_organizer_sessions_organizer_id", table_name="organizer_sessions")
    op.drop_table("organizer_sessions")
