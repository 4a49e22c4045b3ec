"""calendar credentials: bound to a doctor and an origin, the secret encrypted at rest

Links keep naming a credential by ``secret_ref``; the secret used to come from a
``SCHEDQ_SECRET_<REF>`` variable any link could name. Operators re-register such secrets with
``schedq credentials add`` (nothing to migrate: no secret was ever stored).

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_credentials",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("doctor_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "name ~ '^[A-Za-z0-9_]+$'", name=op.f("ck_calendar_credentials_name_shape")
        ),
        sa.CheckConstraint(
            "origin ~ '^https?://[^/]+:[0-9]+$'", name=op.f("ck_calendar_credentials_origin_shape")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_calendar_credentials_doctor_id_doctors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_calendar_credentials")),
    )


def downgrade() -> None:
    op.drop_table("calendar_credentials")
