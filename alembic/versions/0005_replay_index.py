"""index jobs.replay_of (deleting a job must not scan the ledger for replays)

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_replay_of",
        "jobs",
        ["replay_of"],
        unique=False,
        postgresql_where=sa.text("replay_of IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_replay_of", table_name="jobs")
