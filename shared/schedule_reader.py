"""Read one doctor's schedule from PostgreSQL into the pure ``ScheduleInputs`` (I/O lives here).

Workers (re-validating a change inside its transaction) and the availability reader use the same
loader, so a write and a read never disagree about what the schedule is.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row

from shared.db.schedule import ACTIVE_APPOINTMENT_STATUSES
from shared.db.uow import UnitOfWork
from shared.domain.plan import WorkingPlanPayload
from shared.domain.schedule import Booking, Closure, ScheduleInputs

# Rules look at whole local days around a range (per-day capacity, windows crossing UTC dates).
MARGIN = timedelta(days=2)


class DoctorRef(Protocol):
    """What the reader needs of a doctor: an ORM row or a service's locked-row snapshot."""

    @property
    def id(self) -> str: ...

    @property
    def time_zone(self) -> str: ...


# Plain SQL for what every booking reads under the doctor's lock (see UnitOfWork.sql for why).
_EXTERNAL_BUSY = """
SELECT b.starts_at, b.ends_at FROM external_busy AS b
  JOIN calendar_links AS l ON l.id = b.link_id
 WHERE l.doctor_id = %(doctor_id)s AND l.active AND l.direction IN ('import', 'both')
   AND b.starts_at < %(end)s AND b.ends_at > %(start)s
 ORDER BY b.starts_at, b.ends_at
"""
_PLANS = """
SELECT doctor_id, valid_from, slot_minutes, weekdays, capacity_per_slot, capacity_per_day
  FROM working_plans WHERE doctor_id = %(doctor_id)s ORDER BY valid_from
"""
_CLOSURES = """
SELECT starts_at, ends_at, kind, id FROM schedule_exceptions
 WHERE doctor_id = %(doctor_id)s AND ends_at > %(lo)s AND starts_at < %(hi)s
"""
_HOLIDAYS = """
SELECT d.day FROM holiday_dates AS d
  JOIN doctor_holiday_calendars AS c ON c.calendar = d.calendar
 WHERE c.doctor_id = %(doctor_id)s AND d.day >= %(first)s AND d.day <= %(last)s
"""


def load_external_busy(
    uow: UnitOfWork, doctor_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Busy ranges ``[starts_at, ends_at)`` imported from the doctor's active import links that
    overlap ``[start, end)``, sorted; ranges from several calendars may overlap each other."""
    rows = uow.sql(_EXTERNAL_BUSY, {"doctor_id": doctor_id, "start": start, "end": end})
    return [(s, e) for s, e in map(tuple, rows)]


def plan_from_row(row: Row[Any], time_zone: str) -> WorkingPlanPayload:
    return WorkingPlanPayload.model_validate(
        {
            "doctor_id": row.doctor_id,
            "time_zone": time_zone,
            "valid_from": row.valid_from,
            "slot_minutes": row.slot_minutes,
            "weekdays": row.weekdays,
            "capacity_per_slot": row.capacity_per_slot,
            "capacity_per_day": row.capacity_per_day,
        }
    )


class ActiveAppointment(NamedTuple):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    seat: int
    needs_reschedule: bool


# Plain SQL: every schedule change reads these under its lock (see UnitOfWork.sql for why).
_ACTIVE = """
SELECT id, starts_at, ends_at, seat, needs_reschedule FROM appointments
 WHERE doctor_id = %(doctor_id)s AND status = ANY(%(statuses)s) AND ends_at > %(start)s
"""
_ORDER = " ORDER BY starts_at, id"


def active_appointments_sql(
    doctor_id: str, start: datetime, end: datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of :func:`active_appointments` (the benchmark EXPLAINs it)."""
    params = {"doctor_id": doctor_id, "statuses": list(ACTIVE_APPOINTMENT_STATUSES), "start": start}
    if end is None:
        return _ACTIVE + _ORDER, params
    return _ACTIVE + " AND starts_at < %(end)s" + _ORDER, {**params, "end": end}


def active_appointments(
    uow: UnitOfWork, doctor_id: str, start: datetime, end: datetime | None = None
) -> list[ActiveAppointment]:
    """Booked (active) appointments of the doctor that end after ``start`` (and begin before
    ``end``), in time order."""
    return [
        ActiveAppointment._make(row)
        for row in uow.sql(*active_appointments_sql(doctor_id, start, end))
    ]


def booking_of(row: ActiveAppointment) -> Booking:
    return Booking(str(row.id), row.starts_at, row.ends_at, row.seat)


def load_inputs(
    uow: UnitOfWork, doctor: DoctorRef, start: datetime, end: datetime
) -> ScheduleInputs:
    zone = ZoneInfo(doctor.time_zone)
    lo, hi = start - MARGIN, end + MARGIN
    plans = uow.sql(_PLANS, {"doctor_id": doctor.id})
    exceptions = uow.sql(_CLOSURES, {"doctor_id": doctor.id, "lo": lo, "hi": hi})
    days = {"first": lo.astimezone(zone).date(), "last": hi.astimezone(zone).date()}
    holidays = uow.sql(_HOLIDAYS, {"doctor_id": doctor.id, **days}).scalars()
    return ScheduleInputs(
        zone=zone,
        plans=tuple(plan_from_row(p, doctor.time_zone) for p in plans),
        closures=tuple(Closure(e.starts_at, e.ends_at, e.kind, e.id) for e in exceptions),
        holidays=frozenset(holidays),
        appointments=tuple(booking_of(a) for a in active_appointments(uow, doctor.id, lo, hi)),
        external_busy=tuple(load_external_busy(uow, doctor.id, lo, hi)),
    )
