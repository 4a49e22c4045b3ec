"""API clients of the HTTP gateway: who may call it, in which role, within which scope.

A client's token is shown once when it is created or rotated; only its argon2 hash is stored,
with a short public ``key_id`` (the token's prefix) to find the row without a table scan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

ROLES = ("submitter", "reader", "operator", "admin")


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The job's submitter and the audit log's actor: short, printable, unique.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # Job kinds a submitter may submit; ["*"] = every kind.
    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # Shell-style patterns (fnmatch) of the doctor ids the client may touch or read; ["*"] = all.
    doctor_patterns: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('submitter','reader','operator','admin')", name="role_known"),
        CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'", name="name_printable"),
    )
