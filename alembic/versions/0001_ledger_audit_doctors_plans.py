"""ledger, audit log, doctors, working plans, appointments

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # btree_gist backs the no-double-booking exclusion constraint added with appointments.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('correlation_id', sa.String(length=100), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity', 'entity_id', 'at'], unique=False)
    op.create_table('doctors',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('schedule_version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("id <> ''", name=op.f('ck_doctors_id_not_empty')),
    sa.CheckConstraint('schedule_version >= 0', name=op.f('ck_doctors_version_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doctors'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('doctor_id', sa.String(length=64), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unfinished_deliveries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('correlation_id', sa.String(length=100), nullable=False),
    sa.Column('submitter', sa.String(length=100), nullable=False),
    sa.Column('replay_of', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_category', sa.String(length=32), nullable=True),
    sa.Column('error_severity', sa.String(length=16), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_details', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("(status IN ('succeeded','rejected','dead')) = (finished_at IS NOT NULL)", name=op.f('ck_jobs_finished_iff_terminal')),
    sa.CheckConstraint("status IN ('queued','running','succeeded','rejected','dead')", name=op.f('ck_jobs_status_known')),
    sa.CheckConstraint('attempts >= 0 AND unfinished_deliveries >= 0', name=op.f('ck_jobs_counters_positive')),
    sa.ForeignKeyConstraint(['replay_of'], ['jobs.id'], name=op.f('fk_jobs_replay_of_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_jobs_idempotency_key')),
    sa.UniqueConstraint('seq', name=op.f('uq_jobs_seq'))
    )
    op.create_index('ix_jobs_pending_created', 'jobs', ['created_at'], unique=False, postgresql_where=sa.text("status = 'queued'"))
    op.create_index('ix_jobs_pending_doctor_seq', 'jobs', ['doctor_id', 'seq'], unique=False, postgresql_where=sa.text("status IN ('queued','running')"))
    op.create_index('ix_jobs_status_finished', 'jobs', ['status', 'finished_at'], unique=False)
    op.create_table('working_plans',
    sa.Column('doctor_id', sa.String(length=64), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('weekdays', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('slot_minutes BETWEEN 5 AND 480', name=op.f('ck_working_plans_slot_minutes_range')),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_working_plans_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('doctor_id', 'valid_from', name=op.f('pk_working_plans'))
    )
    op.create_table('appointments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('doctor_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seat', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='booked', nullable=False),
    sa.Column('patient_ref', sa.String(length=128), nullable=False),
    sa.Column('needs_reschedule', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    postgresql.ExcludeConstraint((sa.column('doctor_id'), '='), (sa.column('seat'), '='), (sa.text("tstzrange(starts_at, ends_at, '[)')"), '&&'), where=sa.text("status IN ('proposed','pending','booked','arrived','checked-in')"), using='gist', name='ex_appointments_no_double_booking'),
    sa.CheckConstraint("status IN ('proposed','pending','booked','arrived','fulfilled','cancelled','noshow','entered-in-error','checked-in','waitlist')", name=op.f('ck_appointments_status_fhir')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_appointments_ends_after_start')),
    sa.CheckConstraint('seat >= 1', name=op.f('ck_appointments_seat_positive')),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_appointments_doctor_id_doctors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    op.create_index('ix_appointments_doctor_range', 'appointments', ['doctor_id', 'starts_at', 'ends_at'], unique=False)
    # The audit log is append-only: the database itself refuses to rewrite history.
    op.execute(
        """
        CREATE FUNCTION schedq_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION schedq_audit_append_only();
        """
    )


def downgrade() -> None:
    op.drop_index('ix_appointments_doctor_range', table_name='appointments')
    op.drop_table('appointments')
    op.drop_table('working_plans')
    op.drop_index('ix_jobs_status_finished', table_name='jobs')
    op.drop_index('ix_jobs_pending_doctor_seq', table_name='jobs', postgresql_where=sa.text("status IN ('queued','running')"))
    op.drop_index('ix_jobs_pending_created', table_name='jobs', postgresql_where=sa.text("status = 'queued'"))
    op.drop_table('jobs')
    op.drop_table('doctors')
    op.drop_index('ix_audit_log_entity', table_name='audit_log')
    op.drop_table('audit_log')
    op.execute("DROP FUNCTION IF EXISTS schedq_audit_append_only()")
