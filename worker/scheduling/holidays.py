"""Replace a named holiday calendar (its dates and the doctors it is attached to)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from shared import kinds
from shared.db.domain import DoctorHolidayCalendar, HolidayCalendar, HolidayDate
from shared.db.uow import UnitOfWork
from shared.domain.holidays import SetHolidaysPayload, check_holidays
from shared.domain.timeline import day_bounds
from shared.errors import validation_failed
from shared.ledger import delivery as ledger_ops
from worker.pipeline.context import Applied, JobContext, settled
from worker.pipeline.handlers import handles
from worker.scheduling import audit, conflicts, doctors


@handles(kinds.SET_HOLIDAYS)
def set_holidays(uow: UnitOfWork, ctx: JobContext, payload: SetHolidaysPayload) -> Applied:
    violations = check_holidays(payload)
    if violations:
        raise validation_failed(violations)
    name = payload.calendar
    before_doctors = set(
        uow.session.scalars(
            select(DoctorHolidayCalendar.doctor_id).where(DoctorHolidayCalendar.calendar == name)
        )
    )
    affected = sorted(before_doctors | set(payload.doctor_ids))
    # The job is ordered on its calendar; every doctor it touches is also locked, in id order
    # (no deadlock with another calendar's job), so it is atomic with their own jobs.
    for doctor_id in affected:
        ledger_ops.lock_order_key(uow, doctor_id)
    locked = {d: doctors.ensure_locked(uow, d, None) for d in affected if d in payload.doctor_ids}
    before_dates = {
        d.day.isoformat(): d.label
        for d in uow.session.scalars(select(HolidayDate).where(HolidayDate.calendar == name))
    }
    stmt = insert(HolidayCalendar).values(name=name, job_id=ctx.job_id)
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[HolidayCalendar.name], set_={"job_id": ctx.job_id}
        )
    )
    uow.session.execute(delete(HolidayDate).where(HolidayDate.calendar == name))
    uow.session.execute(delete(DoctorHolidayCalendar).where(DoctorHolidayCalendar.calendar == name))
    if payload.dates:
        uow.session.execute(
            insert(HolidayDate),
            [{"calendar": name, "day": d.date, "label": d.name} for d in payload.dates],
        )
    if payload.doctor_ids:
        uow.session.execute(
            insert(DoctorHolidayCalendar),
            [{"doctor_id": d, "calendar": name} for d in payload.doctor_ids],
        )
    collided: list[dict[str, Any]] = []
    for doctor in locked.values():
        zone = ZoneInfo(doctor.time_zone)
        for day in payload.dates:
            start, end = day_bounds(day.date, zone)
            collided += conflicts.settle(uow, ctx, doctor, payload.on_conflict, start, end)
    versions = {d: doctors.bump_version(uow, d) for d in affected}
    audit.record(
        uow,
        ctx,
        entity="holiday_calendar",
        entity_id=name,
        action="replaced" if before_dates or before_doctors else "created",
        before={"dates": before_dates, "doctor_ids": sorted(before_doctors)}
        if before_dates or before_doctors
        else None,
        after={
            "dates": {d.date.isoformat(): d.name for d in payload.dates},
            "doctor_ids": sorted(payload.doctor_ids),
        },
    )
    result: dict[str, Any] = {
        "calendar": name,
        "dates": len(payload.dates),
        "doctor_ids": sorted(payload.doctor_ids),
        "schedule_versions": versions,
    }
    if collided:
        result["conflicts"] = collided
    return Applied(result, conflicts=settled(len(collided), payload.on_conflict))
