"""api_clients: the gateway's authenticated clients (role, scope, argon2 token hash)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("kinds", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("doctor_patterns", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('submitter','reader','operator','admin')", name="ck_api_clients_role_known"
        ),
        sa.CheckConstraint(
            "name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'", name="ck_api_clients_name_printable"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_clients"),
        sa.UniqueConstraint("key_id", name="uq_api_clients_key_id"),
        sa.UniqueConstraint("name", name="uq_api_clients_name"),
    )
    # The gateway lists a client's own jobs newest-first by submitter.
    op.create_index("ix_jobs_submitter_seq", "jobs", ["submitter", "seq"])


def downgrade() -> None:
    op.drop_index("ix_jobs_submitter_seq", table_name="jobs")
    op.drop_table("api_clients")
