"""scheduling domain: plan capacities, exceptions, holiday calendars

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('working_plans', sa.Column('capacity_per_slot', sa.SmallInteger(), server_default='1', nullable=False))
    op.add_column('working_plans', sa.Column('capacity_per_day', sa.Integer(), nullable=True))
    op.create_check_constraint(op.f('ck_working_plans_capacity_per_slot_range'), 'working_plans', 'capacity_per_slot BETWEEN 1 AND 50')
    op.create_check_constraint(op.f('ck_working_plans_capacity_per_day_positive'), 'working_plans', 'capacity_per_day IS NULL OR capacity_per_day >= 1')
    op.create_table('schedule_exceptions',
    sa.Column('doctor_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('local', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_schedule_exceptions_ends_after_start')),
    sa.CheckConstraint("kind IN ('vacation','sick_leave','holiday','conference','override_open','override_close')", name=op.f('ck_schedule_exceptions_kind_known')),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_schedule_exceptions_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('doctor_id', 'id', name=op.f('pk_schedule_exceptions'))
    )
    op.create_index('ix_schedule_exceptions_doctor_range', 'schedule_exceptions', ['doctor_id', 'starts_at', 'ends_at'], unique=False)
    op.create_table('holiday_calendars',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("name <> ''", name=op.f('ck_holiday_calendars_name_not_empty')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_holiday_calendars'))
    )
    op.create_table('holiday_dates',
    sa.Column('calendar', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['calendar'], ['holiday_calendars.name'], name=op.f('fk_holiday_dates_calendar_holiday_calendars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('calendar', 'day', name=op.f('pk_holiday_dates'))
    )
    op.create_table('doctor_holiday_calendars',
    sa.Column('doctor_id', sa.String(length=64), nullable=False),
    sa.Column('calendar', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['calendar'], ['holiday_calendars.name'], name=op.f('fk_doctor_holiday_calendars_calendar_holiday_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_doctor_holiday_calendars_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('doctor_id', 'calendar', name=op.f('pk_doctor_holiday_calendars'))
    )


def downgrade() -> None:
    op.drop_table('doctor_holiday_calendars')
    op.drop_table('holiday_dates')
    op.drop_table('holiday_calendars')
    op.drop_index('ix_schedule_exceptions_doctor_range', table_name='schedule_exceptions')
    op.drop_table('schedule_exceptions')
    op.drop_constraint(op.f('ck_working_plans_capacity_per_day_positive'), 'working_plans', type_='check')
    op.drop_constraint(op.f('ck_working_plans_capacity_per_slot_range'), 'working_plans', type_='check')
    op.drop_column('working_plans', 'capacity_per_day')
    op.drop_column('working_plans', 'capacity_per_slot')
