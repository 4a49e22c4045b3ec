"""Exceptions to a doctor's plan and named holiday calendars (migration 0002)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

EXCEPTION_KINDS = (
    "vacation",
    "sick_leave",
    "holiday",
    "conference",
    "override_open",
    "override_close",
)


class ScheduleClosure(Base):
    """Time a doctor's plan does not describe, computed on the local calendar, stored as instants.

    ``id`` is chosen by the producer, so ``remove_exception`` can name it before it is applied.
    """

    __tablename__ = "schedule_exceptions"

    doctor_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The local description the producer sent (days or wall-clock range), for people and audit.
    local: Mapped[dict[str, Any]] = mapped_column(JSONB)
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(
            "kind IN (" + ",".join(f"'{k}'" for k in EXCEPTION_KINDS) + ")", name="kind_known"
        ),
        Index("ix_schedule_exceptions_doctor_range", "doctor_id", "starts_at", "ends_at"),
    )


class HolidayCalendar(Base):
    __tablename__ = "holiday_calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("name <> ''", name="name_not_empty"),)


class HolidayDate(Base):
    __tablename__ = "holiday_dates"

    calendar: Mapped[str] = mapped_column(
        String(64), ForeignKey("holiday_calendars.name", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    label: Mapped[str] = mapped_column(String(100))


class DoctorHolidayCalendar(Base):
    __tablename__ = "doctor_holiday_calendars"

    doctor_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    calendar: Mapped[str] = mapped_column(
        String(64), ForeignKey("holiday_calendars.name", ondelete="CASCADE"), primary_key=True
    )
