"""Apply a weekly working plan: validate, lock the doctor, upsert, settle conflicts, audit."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from shared.db.schedule import WorkingPlan
from shared.db.uow import UnitOfWork
from shared.domain.plan import WEEKDAYS, WorkingPlanPayload
from shared.domain.plan_rules import check_plan
from shared.domain.timeline import local_instant, shift_windows
from shared.errors import validation_failed
from shared.settings import get_settings
from worker.context import JobContext
from worker.services import audit, conflicts, doctors


def _state(row: WorkingPlan) -> dict[str, Any]:
    return {
        "slot_minutes": row.slot_minutes,
        "weekdays": row.weekdays,
        "capacity_per_slot": row.capacity_per_slot,
        "capacity_per_day": row.capacity_per_day,
    }


def unused_minutes(plan: WorkingPlanPayload) -> dict[str, int]:
    """Per weekday, the minutes at the end of windows too short for another slot (not offered)."""
    out: dict[str, int] = {}
    for day in WEEKDAYS:
        rest = sum(
            (b - a) % plan.slot_minutes
            for shift in plan.weekdays.get(day, [])
            for a, b in shift_windows(shift)
        )
        if rest:
            out[day] = rest
    return out


def set_working_plan(uow: UnitOfWork, ctx: JobContext, plan: WorkingPlanPayload) -> dict[str, Any]:
    settings = get_settings()
    violations = check_plan(plan, settings.business_hours_start, settings.business_hours_end)
    if violations:
        raise validation_failed(violations)
    doctor = doctors.ensure_locked(uow, plan.doctor_id, plan.time_zone)
    existing = uow.session.scalars(
        select(WorkingPlan).where(
            WorkingPlan.doctor_id == plan.doctor_id, WorkingPlan.valid_from == plan.valid_from
        )
    ).one_or_none()
    before = _state(existing) if existing else None
    weekdays = plan.stored_weekdays()
    values = {
        "slot_minutes": plan.slot_minutes,
        "weekdays": weekdays,
        "capacity_per_slot": plan.capacity_per_slot,
        "capacity_per_day": plan.capacity_per_day,
    }
    stmt = insert(WorkingPlan).values(
        doctor_id=plan.doctor_id, valid_from=plan.valid_from, job_id=str(ctx.job_id), **values
    )
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[WorkingPlan.doctor_id, WorkingPlan.valid_from],
            set_={key: stmt.excluded[key] for key in [*values, "job_id", "updated_at"]},
        )
    )
    # The new plan governs from valid_from until the next plan's valid_from.
    later = uow.session.scalar(
        select(WorkingPlan.valid_from)
        .where(WorkingPlan.doctor_id == plan.doctor_id, WorkingPlan.valid_from > plan.valid_from)
        .order_by(WorkingPlan.valid_from)
        .limit(1)
    )
    zone = ZoneInfo(plan.time_zone)
    settled = conflicts.settle(
        uow,
        ctx,
        doctor,
        plan.on_conflict,
        local_instant(plan.valid_from, 0, zone),
        local_instant(later, 0, zone) if later else None,
    )
    version = doctors.bump_version(uow, plan.doctor_id)
    audit.record(
        uow,
        ctx,
        entity="working_plan",
        entity_id=f"{plan.doctor_id}/{plan.valid_from.isoformat()}",
        action="replaced" if existing else "created",
        before=before,
        after=values,
    )
    result: dict[str, Any] = {
        "doctor_id": plan.doctor_id,
        "valid_from": plan.valid_from.isoformat(),
        "shifts": sum(len(s) for s in plan.weekdays.values()),
        "schedule_version": version,
    }
    if unused := unused_minutes(plan):
        result["unused_minutes"] = unused
    if settled:
        result["conflicts"] = settled
    return result
