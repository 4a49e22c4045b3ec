"""data protection: commit-time clock defaults, room for sealed patient references

Audit rows and attempt rows default to clock_timestamp() (the wall clock when the row is
written), not now() (the transaction's start, which precedes any wait for the doctor's lock).

appointments.patient_ref holds "$fernet$" + a Fernet token (shared.patient_data) of a reference
of up to 128 characters: 400 characters. Existing plaintext references stay readable and are
sealed by `schedq reencrypt` (the migration has no business holding the keys).

Audit rows no longer carry patient references (they name the appointment); the ones written
before are stripped of them here, the only change ever made to audit rows: the trigger is
disabled for that one statement inside this migration's transaction.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit_log ALTER COLUMN at SET DEFAULT clock_timestamp()")
    op.execute("ALTER TABLE job_attempts ALTER COLUMN at SET DEFAULT clock_timestamp()")
    op.execute("ALTER TABLE appointments ALTER COLUMN patient_ref TYPE varchar(400)")
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(
        """
        UPDATE audit_log
           SET before = CASE WHEN before ? 'patient_ref' THEN before - 'patient_ref' END,
               after = CASE WHEN after ? 'patient_ref' THEN after - 'patient_ref' END
         WHERE entity = 'appointment'
           AND (before ? 'patient_ref' OR after ? 'patient_ref')
        """
    )
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def downgrade() -> None:
    # appointments.patient_ref stays varchar(400): sealed references do not fit 128, and the
    # stripped audit fields are gone for good (that was the point).
    op.execute("ALTER TABLE job_attempts ALTER COLUMN at SET DEFAULT now()")
    op.execute("ALTER TABLE audit_log ALTER COLUMN at SET DEFAULT now()")
