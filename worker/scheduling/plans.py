"""Apply a weekly working plan: validate, lock the doctor, upsert, settle conflicts, audit."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from shared import kinds
from shared.db.uow import UnitOfWork
from shared.domain.plan import WEEKDAYS, WorkingPlanPayload
from shared.domain.plan_rules import check_plan
from shared.domain.timeline import local_instant, shift_windows
from shared.errors import validation_failed
from shared.settings import get_settings
from worker.pipeline.context import Applied, JobContext, settled
from worker.pipeline.handlers import handles
from worker.scheduling import audit, conflicts, doctors


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


# One statement (see UnitOfWork.sql for why plain SQL): the plan it replaces (``before``, read
# by the CTE from the snapshot before the upsert), the upsert, and the next plan's valid_from
# (the new plan governs until then).
_UPSERT = """
WITH current AS (
    SELECT slot_minutes, weekdays, capacity_per_slot, capacity_per_day FROM working_plans
     WHERE doctor_id = %(doctor_id)s AND valid_from = %(valid_from)s)
INSERT INTO working_plans
       (doctor_id, valid_from, job_id, slot_minutes, weekdays, capacity_per_slot, capacity_per_day)
VALUES (%(doctor_id)s, %(valid_from)s, %(job_id)s, %(slot_minutes)s, %(weekdays)s,
        %(capacity_per_slot)s, %(capacity_per_day)s)
ON CONFLICT (doctor_id, valid_from) DO UPDATE
   SET job_id = excluded.job_id, slot_minutes = excluded.slot_minutes,
       weekdays = excluded.weekdays, capacity_per_slot = excluded.capacity_per_slot,
       capacity_per_day = excluded.capacity_per_day, updated_at = excluded.updated_at
RETURNING (SELECT to_jsonb(current) FROM current) AS before,
          (SELECT min(valid_from) FROM working_plans
            WHERE doctor_id = %(doctor_id)s AND valid_from > %(valid_from)s) AS later
"""


@handles(kinds.SET_WORKING_PLAN)
def set_working_plan(uow: UnitOfWork, ctx: JobContext, plan: WorkingPlanPayload) -> Applied:
    settings = get_settings()
    violations = check_plan(plan, settings.business_hours_start, settings.business_hours_end)
    if violations:
        raise validation_failed(violations)
    doctor = doctors.ensure_locked(uow, plan.doctor_id, plan.time_zone)
    values = {
        "slot_minutes": plan.slot_minutes,
        "weekdays": plan.stored_weekdays(),
        "capacity_per_slot": plan.capacity_per_slot,
        "capacity_per_day": plan.capacity_per_day,
    }
    params = {
        **values,
        "doctor_id": plan.doctor_id,
        "valid_from": plan.valid_from,
        "job_id": str(ctx.job_id),
        "weekdays": Jsonb(values["weekdays"]),
    }
    before, later = tuple(uow.sql(_UPSERT, params).one())
    zone = ZoneInfo(plan.time_zone)
    collided = conflicts.settle(
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
        action="replaced" if before is not None else "created",
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
    if collided:
        result["conflicts"] = collided
    return Applied(result, conflicts=settled(len(collided), plan.on_conflict))
