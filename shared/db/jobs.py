"""The job ledger (source of truth for every job) and the append-only audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

JOB_STATUSES = ("queued", "running", "succeeded", "rejected", "dead")
TERMINAL_STATUSES = ("succeeded", "rejected", "dead")
PENDING_STATUSES = ("queued", "running")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # Global submission order; per-key order is "seq ascending among that order key's jobs".
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    # Jobs sharing an order key apply one by one in submission order: a doctor's id, or
    # "holidays:<calendar>" (shared.kinds). NULL: no order.
    order_key: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    payload_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Deliveries that started but never recorded an end: a worker died under them.
    unfinished_deliveries: Mapped[int] = mapped_column(Integer, server_default="0")
    correlation_id: Mapped[str] = mapped_column(String(100))
    submitter: Mapped[str] = mapped_column(String(100))
    replay_of: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(32))
    error_severity: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued','running','succeeded','rejected','dead')", name="status_known"
        ),
        CheckConstraint("attempts >= 0 AND unfinished_deliveries >= 0", name="counters_positive"),
        CheckConstraint(
            "(status IN ('succeeded','rejected','dead')) = (finished_at IS NOT NULL)",
            name="finished_iff_terminal",
        ),
        # The ordering check and the reconciler only ever look at pending jobs.
        Index(
            "ix_jobs_pending_order_key_seq",
            "order_key",
            "seq",
            postgresql_where=text("status IN ('queued','running')"),
        ),
        Index("ix_jobs_pending_created", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_jobs_status_finished", "status", "finished_at"),
        # Deleting a job checks for replays pointing at it (ON DELETE SET NULL): keep that indexed.
        Index("ix_jobs_replay_of", "replay_of", postgresql_where=text("replay_of IS NOT NULL")),
    )


class AuditEntry(Base):
    """Who changed what. Rows are never updated or deleted (a trigger refuses both)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id", "at"),)
