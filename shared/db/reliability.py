"""What went wrong, kept for producers and operators: attempt history, dead letters, poison.

- ``job_attempts``: one row per attempt that did not succeed (retry, rejected, dead, or a
  delivery whose worker died), so ``get_job`` can show the whole story of a job.
- ``dead_letters``: one row per job that became ``dead``, with everything an operator needs to
  decide and replay (payload, last error, attempts, history, first/last failure).
- ``poison_messages``: broker messages refused before any job code ran (bad JSON, pickle,
  unknown task, oversized, wrong arguments, unknown job id). Only metadata is kept: a hash
  and size of the body, never the body (it could hold data we must not store).
"""

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
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

ATTEMPT_OUTCOMES = ("retry", "rejected", "dead", "worker_lost")


class JobAttempt(Base):
    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(32))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "outcome IN ('retry','rejected','dead','worker_lost')", name="outcome_known"
        ),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        Index("ix_job_attempts_job", "job_id", "id"),
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "error_code": self.error_code,
            "error_category": self.error_category,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    error: Mapped[dict[str, Any]] = mapped_column(JSONB)
    error_code: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    first_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The job a replay created (None until replayed); a replay happens at most once per row.
    replayed_as: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")
    )
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_dead_letters_kind_code", "kind", "error_code", "last_failure_at"),
        Index("ix_dead_letters_last_failure", "last_failure_at"),
    )


class PoisonMessage(Base):
    __tablename__ = "poison_messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    code: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(200))
    task_name: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(200))
    # Set when the message named a job the ledger knows (that job is then dead-lettered).
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    body_sha256: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_poison_messages_code_at", "code", "at"),)
