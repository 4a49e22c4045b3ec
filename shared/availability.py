"""Serve availability to producers: version from PostgreSQL, answer from a cache or computed.

The doctor's version and the schedule are read in one REPEATABLE READ snapshot, so an answer
is always stored under the version it was computed from. If PostgreSQL cannot be reached, the
last answer for the same request is returned with ``possibly_stale: true``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_errors

from shared.availability_cache import AvailabilityCache, request_key
from shared.db.problems import database_problem
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.domain.booking import availability
from shared.domain.timeline import local_instant
from shared.errors import Violation, error, not_found, validation_failed
from shared.schedule_reader import load_inputs

MAX_RANGE = timedelta(days=62)
When = date | datetime


def _instant(value: When, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zone).astimezone(UTC)
        return value
    return local_instant(value, 0, zone)


def _compute(uow: UnitOfWork, doctor: Doctor, start: When, end: When) -> dict[str, Any]:
    zone = ZoneInfo(doctor.time_zone)
    lo, hi = _instant(start, zone), _instant(end, zone)
    if hi <= lo or hi - lo > MAX_RANGE:
        raise validation_failed(
            [Violation("RANGE_INVALID", "to", "'to' must be after 'from', at most 62 days later.")]
        )
    inputs = load_inputs(uow, doctor, lo, hi)
    return {
        "doctor_id": doctor.id,
        "time_zone": doctor.time_zone,
        "from": lo.isoformat(),
        "to": hi.isoformat(),
        "schedule_version": doctor.schedule_version,
        "slots": [s.as_dict() for s in availability(inputs, lo, hi)],
        "possibly_stale": False,
    }


def get_availability(
    cache: AvailabilityCache,
    doctor_id: str,
    start: When,
    end: When,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Free slots of ``doctor_id`` in ``[start, end)``; dates are the doctor's local days."""
    request = request_key(doctor_id, start.isoformat(), end.isoformat())
    try:
        with UnitOfWork(engine) as uow:
            uow.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            doctor = uow.session.scalar(select(Doctor).where(Doctor.id == doctor_id))
            if doctor is None:
                raise not_found("doctor", doctor_id)
            version = doctor.schedule_version
            cached = cache.get(request, version)
            if cached is not None:
                return {**cached, "cached": True}
            answer = _compute(uow, doctor, start, end)
    except (sa_errors.OperationalError, sa_errors.InterfaceError) as exc:
        last = cache.last(request)
        if last is None:
            # No earlier answer is cached to fall back on.
            # Say which: down, missing or not migrated (each has its own fix).
            raise (database_problem(exc) or error("DATABASE_UNAVAILABLE")) from exc
        return {**last, "cached": True, "possibly_stale": True}
    cache.put(request, version, answer)
    return {**answer, "cached": False}
