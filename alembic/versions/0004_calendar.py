"""calendar links, external busy time, exported events

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_links',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('doctor_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('secret_ref', sa.String(length=64), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('sync_token', sa.Text(), nullable=True),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('expanded_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("direction IN ('import','export','both')", name=op.f('ck_calendar_links_direction_known')),
    sa.CheckConstraint("kind = 'caldav' OR direction = 'import'", name=op.f('ck_calendar_links_ics_import_only')),
    sa.CheckConstraint("kind IN ('caldav','ics')", name=op.f('ck_calendar_links_kind_known')),
    sa.CheckConstraint("secret_ref IS NULL OR secret_ref ~ '^[A-Za-z0-9_]+$'", name=op.f('ck_calendar_links_secret_ref')),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_calendar_links_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_links')),
    sa.UniqueConstraint('doctor_id', 'url', name=op.f('uq_calendar_links_doctor_id_url'))
    )
    op.create_table('exported_events',
    sa.Column('appointment_id', sa.UUID(), nullable=False),
    sa.Column('link_id', sa.UUID(), nullable=False),
    sa.Column('uid', sa.String(length=200), nullable=False),
    sa.Column('href', sa.Text(), nullable=False),
    sa.Column('sequence', sa.Integer(), server_default='0', nullable=False),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('sequence >= 0', name=op.f('ck_exported_events_sequence_positive')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_exported_events_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['calendar_links.id'], name=op.f('fk_exported_events_link_id_calendar_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('appointment_id', 'link_id', name=op.f('pk_exported_events')),
    sa.UniqueConstraint('link_id', 'uid', name=op.f('uq_exported_events_link_id_uid'))
    )
    op.create_table('external_busy',
    sa.Column('link_id', sa.UUID(), nullable=False),
    sa.Column('uid', sa.Text(), nullable=False),
    sa.Column('recurrence_id', sa.String(length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_href', sa.Text(), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_external_busy_ends_after_start')),
    sa.ForeignKeyConstraint(['link_id'], ['calendar_links.id'], name=op.f('fk_external_busy_link_id_calendar_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('link_id', 'uid', 'recurrence_id', name=op.f('pk_external_busy'))
    )
    op.create_index('ix_external_busy_link_href', 'external_busy', ['link_id', 'source_href'], unique=False)
    op.create_index('ix_external_busy_link_range', 'external_busy', ['link_id', 'starts_at', 'ends_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_external_busy_link_range', table_name='external_busy')
    op.drop_index('ix_external_busy_link_href', table_name='external_busy')
    op.drop_table('external_busy')
    op.drop_table('exported_events')
    op.drop_table('calendar_links')
