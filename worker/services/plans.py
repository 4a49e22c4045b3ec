"""Apply a weekly working plan: validate, lock the doctor, upsert the plan, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from shared.db.schedule import WorkingPlan
from shared.db.uow import UnitOfWork
from shared.domain.plan import WorkingPlanPayload, check_plan
from shared.errors import validation_failed
from shared.settings import get_settings
from worker.context import JobContext
from worker.services import audit, doctors


def set_working_plan(uow: UnitOfWork, ctx: JobContext, plan: WorkingPlanPayload) -> dict[str, Any]:
    settings = get_settings()
    violations = check_plan(plan, settings.business_hours_start, settings.business_hours_end)
    if violations:
        raise validation_failed(violations)
    doctors.ensure_locked(uow, plan.doctor_id, plan.time_zone)
    existing = uow.session.scalars(
        select(WorkingPlan).where(
            WorkingPlan.doctor_id == plan.doctor_id, WorkingPlan.valid_from == plan.valid_from
        )
    ).one_or_none()
    before = (
        {"slot_minutes": existing.slot_minutes, "weekdays": existing.weekdays} if existing else None
    )
    weekdays = plan.model_dump(mode="json")["weekdays"]
    stmt = insert(WorkingPlan).values(
        doctor_id=plan.doctor_id,
        valid_from=plan.valid_from,
        slot_minutes=plan.slot_minutes,
        weekdays=weekdays,
        job_id=str(ctx.job_id),
    )
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[WorkingPlan.doctor_id, WorkingPlan.valid_from],
            set_={
                "slot_minutes": stmt.excluded.slot_minutes,
                "weekdays": stmt.excluded.weekdays,
                "job_id": stmt.excluded.job_id,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    version = doctors.bump_version(uow, plan.doctor_id)
    after = {"slot_minutes": plan.slot_minutes, "weekdays": weekdays}
    audit.record(
        uow,
        ctx,
        entity="working_plan",
        entity_id=f"{plan.doctor_id}/{plan.valid_from.isoformat()}",
        action="replaced" if existing else "created",
        before=before,
        after=after,
    )
    shifts = sum(len(s) for s in plan.weekdays.values())
    return {
        "doctor_id": plan.doctor_id,
        "valid_from": plan.valid_from.isoformat(),
        "shifts": shifts,
        "schedule_version": version,
    }
