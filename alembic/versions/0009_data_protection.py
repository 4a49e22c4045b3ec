"""data protection: commit-time clock defaults

Audit rows and attempt rows default to clock_timestamp() (the wall clock when the row is
written), not now() (the transaction's start, which precedes any wait for the doctor's lock).

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit_log ALTER COLUMN at SET DEFAULT clock_timestamp()")
    op.execute("ALTER TABLE job_attempts ALTER COLUMN at SET DEFAULT clock_timestamp()")


def downgrade() -> None:
    op.execute("ALTER TABLE job_attempts ALTER COLUMN at SET DEFAULT now()")
    op.execute("ALTER TABLE audit_log ALTER COLUMN at SET DEFAULT now()")
