"""Doctors and their schedule data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, ExcludeConstraint
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
    # Added by migration 0002: parallel seats per slot and an optional cap per local day.
    capacity_per_slot: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    capacity_per_day: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 5 AND 480", name="slot_minutes_range"),
        CheckConstraint("capacity_per_slot BETWEEN 1 AND 50", name="capacity_per_slot_range"),
        CheckConstraint(
            "capacity_per_day IS NULL OR capacity_per_day >= 1", name="capacity_per_day_positive"
        ),
    )


# FHIR Appointment.status codes; the "active" ones hold their time (the exclusion constraint).
APPOINTMENT_STATUSES = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
)
ACTIVE_APPOINTMENT_STATUSES = ("proposed", "pending", "booked", "arrived", "checked-in")


class Appointment(Base):
    """A half-open instant range ``[starts_at, ends_at)`` for one opaque patient reference.

    ``seat`` numbers the parallel places of a slot (1..capacity). PostgreSQL refuses two active
    appointments of one doctor on the same seat with overlapping ranges (btree_gist exclusion
    constraint ``ex_appointments_no_double_booking``), whatever the number of workers.
    """

    __tablename__ = "appointments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    doctor_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("doctors.id", ondelete="RESTRICT")
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seat: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    status: Mapped[str] = mapped_column(String(20), server_default="booked")
    # Sealed (shared.patient_data): "$fernet$" + a Fernet token of the <= 128-character reference.
    patient_ref: Mapped[str] = mapped_column(String(400))
    needs_reschedule: Mapped[bool] = mapped_column(Boolean, server_default="false")
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("seat >= 1", name="seat_positive"),
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in APPOINTMENT_STATUSES) + ")",
            name="status_fhir",
        ),
        ExcludeConstraint(
            ("doctor_id", "="),
            ("seat", "="),
            (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            name="ex_appointments_no_double_booking",
            using="gist",
            where=text(
                "status IN (" + ",".join(f"'{s}'" for s in ACTIVE_APPOINTMENT_STATUSES) + ")"
            ),
        ),
        Index("ix_appointments_doctor_range", "doctor_id", "starts_at", "ends_at"),
    )
