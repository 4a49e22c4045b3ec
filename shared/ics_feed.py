"""A doctor's appointments as an iCalendar feed (``schedq ics`` and the gateway's calendar.ics).

No patient data beyond the opaque reference; UIDs are the same as in CalDAV exports, and each
event's SEQUENCE is the higher of the appointment's own version and the highest SEQUENCE any
CalDAV export has used, so clients see it rise after a reschedule or a cancellation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import String, cast, func, select

from shared.db.calendar import ExportedEvent
from shared.db.jobs import AuditEntry
from shared.db.schedule import Appointment, Doctor
from shared.db.uow import UnitOfWork
from shared.domain.ics_export import AppointmentView, calendar, event
from shared.errors import not_found
from shared.patient_data import unseal


def doctor_feed(doctor: str, days_back: int = 1) -> bytes:
    """Appointments of ``doctor`` that ended at most ``days_back`` days ago, as ICS bytes."""
    since = datetime.now(UTC) - timedelta(days=days_back)
    with UnitOfWork() as uow:
        if uow.session.get(Doctor, doctor) is None:
            raise not_found("doctor", doctor)
        sequences = (
            select(ExportedEvent.appointment_id, func.max(ExportedEvent.sequence).label("seq"))
            .group_by(ExportedEvent.appointment_id)
            .subquery()
        )
        # The appointment's own version: every change (booked, rescheduled, cancelled, flagged)
        # writes one audit row, so the booking is version 0 and each later change adds one
        # (RFC 5545: SEQUENCE rises with each significant revision).
        changes = (
            select(AuditEntry.entity_id, (func.count() - 1).label("version"))
            .where(AuditEntry.entity == "appointment")
            .group_by(AuditEntry.entity_id)
            .subquery()
        )
        rows = uow.session.execute(
            select(Appointment, func.greatest(sequences.c.seq, changes.c.version))
            .outerjoin(sequences, sequences.c.appointment_id == Appointment.id)
            .outerjoin(changes, changes.c.entity_id == cast(Appointment.id, String))
            .where(Appointment.doctor_id == doctor, Appointment.ends_at > since)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        events = [
            event(
                AppointmentView(
                    a.id, a.starts_at, a.ends_at, a.status, unseal(a.patient_ref), a.updated_at
                ),
                int(seq or 0),
            )
            for a, seq in rows
        ]
    return calendar(events, name=f"schedq {doctor}")
