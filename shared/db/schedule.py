"""Doctors and their schedule data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base


class Doctor(Base):
    __tablename__ = "doctors"

    # Upstream systems' own identifier for the doctor (opaque to schedq).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # Bumped by every applied change: cache keys include it, so a cache is never stale.
    schedule_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("id <> ''", name="id_not_empty"),
        CheckConstraint("schedule_version >= 0", name="version_positive"),
    )


class WorkingPlan(Base):
    """A weekly plan valid from a date until the next plan's ``valid_from``."""

    __tablename__ = "working_plans"

    doctor_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    slot_minutes: Mapped[int]
    # {"mon": [{"start": "08:00", "end": "12:00"}], ...} as validated by the payload model.
    weekdays: Mapped[dict[str, Any]] = mapped_column(JSONB)
    job_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("slot_minutes BETWEEN 5 AND 480", name="slot_minutes_range"),)
