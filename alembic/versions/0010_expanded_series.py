"""expanded series: a feed's recurring series kept under a content hash across syncs

A sync of a changed ICS feed reuses the busy instances of every series whose hash is unchanged
instead of expanding it again. The table is a cache: dropping it (downgrade) loses nothing but
time, the next sync of each link expands everything once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expanded_series",
        sa.Column("link_id", sa.UUID(), nullable=False),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("instances", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "digest ~ '^[0-9a-f]{64}$'", name=op.f("ck_expanded_series_digest_shape")
        ),
        sa.CheckConstraint(
            "occurrences >= 0", name=op.f("ck_expanded_series_occurrences_not_negative")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(instances) = 'array'", name=op.f("ck_expanded_series_instances_array")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["calendar_links.id"],
            name=op.f("fk_expanded_series_link_id_calendar_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "uid", name=op.f("pk_expanded_series")),
    )


def downgrade() -> None:
    op.drop_table("expanded_series")
