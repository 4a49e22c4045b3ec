"""jobs.doctor_id -> jobs.order_key: the column holds an order key, not always a doctor

A holiday calendar's jobs are ordered by "holidays:<calendar>", which is no doctor id (and, at
up to 73 characters, did not fit the old 64). Renaming keeps every row and its index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("jobs", "doctor_id", new_column_name="order_key", type_=sa.String(100))
    op.execute("ALTER INDEX ix_jobs_pending_doctor_seq RENAME TO ix_jobs_pending_order_key_seq")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_jobs_pending_order_key_seq RENAME TO ix_jobs_pending_doctor_seq")
    op.alter_column("jobs", "order_key", new_column_name="doctor_id", type_=sa.String(64))
