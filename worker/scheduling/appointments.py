"""Book, cancel and reschedule appointments under the doctor's lock, re-validated in SQL time.

The rule check (``shared.domain.booking``) and PostgreSQL's exclusion constraint give the same
error, SCHEDULE_CONFLICT: the rule explains it, the constraint guarantees it even if two writers
ever got past the rule together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared import kinds
from shared.db.schedule import ACTIVE_APPOINTMENT_STATUSES, Appointment
from shared.db.uow import UnitOfWork
from shared.domain.appointments import (
    BookAppointmentPayload,
    CancelAppointmentPayload,
    RescheduleAppointmentPayload,
)
from shared.domain.booking import BookingCheck, check_booking
from shared.errors import SchedqError, error, not_found, validation_failed, violation_details
from shared.patient_data import seal
from shared.schedule_reader import load_inputs
from worker.pipeline.context import Applied, JobContext
from worker.pipeline.handlers import handles
from worker.scheduling import audit, doctors
from worker.scheduling.conflicts import appointment_state

NAMESPACE = uuid.UUID("8f6c1f2e-4d8a-4f7e-9a43-5c1b2d3e4f50")


def schedule_conflict(check: BookingCheck) -> SchedqError:
    """The error the exclusion constraint's SQLSTATE 23P01 maps to (worker.pipeline.error_map)."""
    return error(
        "SCHEDULE_CONFLICT",
        details=violation_details(check.violations),
    )


def _checked(
    uow: UnitOfWork, doctor_id: str, start: datetime, end: datetime, exclude: str | None = None
) -> int:
    doctor = doctors.ensure_locked(uow, doctor_id, None)
    check = check_booking(load_inputs(uow, doctor, start, end), start, end, exclude)
    if check.is_conflict:
        raise schedule_conflict(check)
    if check.violations or check.seat is None:
        raise validation_failed(check.violations)
    return check.seat


_INSERT = """
INSERT INTO appointments
       (id, doctor_id, starts_at, ends_at, seat, status, patient_ref, needs_reschedule, job_id)
VALUES (%(id)s, %(doctor_id)s, %(starts_at)s, %(ends_at)s, %(seat)s, %(status)s, %(patient_ref)s,
        false, %(job_id)s)
"""


@handles(kinds.BOOK_APPOINTMENT)
def book_appointment(uow: UnitOfWork, ctx: JobContext, payload: BookAppointmentPayload) -> Applied:
    start, end = payload.starts_at.astimezone(UTC), payload.ends_at.astimezone(UTC)
    seat = _checked(uow, payload.doctor_id, start, end)
    ident = payload.appointment_id or uuid.uuid5(NAMESPACE, str(ctx.job_id))
    state = {"starts_at": start, "ends_at": end, "seat": seat, "status": payload.status}
    # Plain SQL, the statement every booking runs (see UnitOfWork.sql for why). The exclusion
    # constraint speaks here (23P01 -> SCHEDULE_CONFLICT). The reference is stored sealed.
    row = {**state, "patient_ref": seal(payload.patient_ref)}
    uow.sql(_INSERT, {**row, "id": ident, "doctor_id": payload.doctor_id, "job_id": ctx.job_id})
    after = {**state, "starts_at": start.isoformat(), "ends_at": end.isoformat()}
    return _done(uow, ctx, payload.doctor_id, ident, {**after, "needs_reschedule": False}, "booked")


def _active(uow: UnitOfWork, doctor_id: str, appointment_id: uuid.UUID) -> Appointment:
    doctors.ensure_locked(uow, doctor_id, None)
    row = uow.session.get(Appointment, appointment_id)
    if row is None or row.doctor_id != doctor_id:
        raise not_found("appointment", str(appointment_id))
    if row.status not in ACTIVE_APPOINTMENT_STATUSES:
        raise error(
            "APPOINTMENT_NOT_ACTIVE",
            status=row.status,
            details={"appointment_id": str(appointment_id), "status": row.status},
        )
    return row


@handles(kinds.CANCEL_APPOINTMENT)
def cancel_appointment(
    uow: UnitOfWork, ctx: JobContext, payload: CancelAppointmentPayload
) -> Applied:
    row = _active(uow, payload.doctor_id, payload.appointment_id)
    before = appointment_state(row)
    row.status = payload.status
    row.updated_at = datetime.now(UTC)
    return _done(uow, ctx, row.doctor_id, row.id, appointment_state(row), "cancelled", before)


@handles(kinds.RESCHEDULE_APPOINTMENT)
def reschedule_appointment(
    uow: UnitOfWork, ctx: JobContext, payload: RescheduleAppointmentPayload
) -> Applied:
    row = _active(uow, payload.doctor_id, payload.appointment_id)
    before = appointment_state(row)
    start, end = payload.starts_at.astimezone(UTC), payload.ends_at.astimezone(UTC)
    seat = _checked(uow, payload.doctor_id, start, end, exclude=str(row.id))
    row.starts_at, row.ends_at, row.seat = start, end, seat
    row.needs_reschedule = False
    row.updated_at = datetime.now(UTC)
    uow.session.flush()
    return _done(uow, ctx, row.doctor_id, row.id, appointment_state(row), "rescheduled", before)


def _done(
    uow: UnitOfWork,
    ctx: JobContext,
    doctor_id: str,
    appointment_id: uuid.UUID,
    after: dict[str, Any],
    action: str,
    before: dict[str, Any] | None = None,
) -> Applied:
    version = doctors.bump_version(uow, doctor_id)
    audit.record(
        uow,
        ctx,
        entity="appointment",
        entity_id=str(appointment_id),
        action=action,
        before=before,
        after=after,
    )
    return Applied(
        {
            "doctor_id": doctor_id,
            "appointment_id": str(appointment_id),
            "starts_at": after["starts_at"],
            "ends_at": after["ends_at"],
            "seat": after["seat"],
            "status": after["status"],
            "schedule_version": version,
        }
    )
