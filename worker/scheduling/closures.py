"""Add or remove an exception (vacation, sick leave, holiday, conference, override open/close)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from shared import kinds
from shared.db.domain import ScheduleClosure
from shared.db.uow import UnitOfWork
from shared.domain.closures import AddClosurePayload, RemoveClosurePayload, resolve_closure
from shared.domain.plan import Strategy
from shared.errors import Violation, not_found, validation_failed
from shared.settings import get_settings
from worker.pipeline.context import Applied, JobContext, settled
from worker.pipeline.handlers import handles
from worker.scheduling import audit, conflicts, doctors


def _state(row: ScheduleClosure) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "local": row.local,
    }


def _finish(
    uow: UnitOfWork,
    ctx: JobContext,
    doctor: doctors.LockedDoctor,
    row: ScheduleClosure,
    action: str,
    collided: list[dict[str, Any]],
    strategy: Strategy,
) -> Applied:
    version = doctors.bump_version(uow, doctor.id)
    state = _state(row)
    audit.record(
        uow,
        ctx,
        entity="schedule_exception",
        entity_id=f"{doctor.id}/{row.id}",
        action=action,
        before=state if action == "removed" else None,
        after=state if action == "added" else None,
    )
    result: dict[str, Any] = {
        "doctor_id": doctor.id,
        "exception_id": row.id,
        **{k: v for k, v in state.items() if k != "local"},
        "schedule_version": version,
    }
    if collided:
        result["conflicts"] = collided
    return Applied(result, conflicts=settled(len(collided), strategy))


@handles(kinds.ADD_CLOSURE)
def add_closure(uow: UnitOfWork, ctx: JobContext, payload: AddClosurePayload) -> Applied:
    doctor = doctors.ensure_locked(uow, payload.doctor_id, None)
    settings = get_settings()
    business = (settings.business_hours_start, settings.business_hours_end)
    span, violations = resolve_closure(payload, ZoneInfo(doctor.time_zone), business)
    if uow.session.get(ScheduleClosure, (doctor.id, payload.exception_id)) is not None:
        violations.append(
            Violation(
                "EXCEPTION_ID_TAKEN",
                "exception_id",
                "This doctor already has an exception with this id.",
            )
        )
    if violations or span is None:
        raise validation_failed(violations)
    local = payload.model_dump(mode="json", include={"days", "range"}, exclude_none=True)
    row = ScheduleClosure(
        doctor_id=doctor.id,
        id=payload.exception_id,
        kind=payload.kind,
        starts_at=span[0],
        ends_at=span[1],
        local=local,
        job_id=ctx.job_id,
    )
    uow.session.add(row)
    # Opening time cannot strand a booking; closing time can.
    collided = (
        []
        if payload.kind == "override_open"
        else conflicts.settle(uow, ctx, doctor, payload.on_conflict, span[0], span[1])
    )
    return _finish(uow, ctx, doctor, row, "added", collided, payload.on_conflict)


@handles(kinds.REMOVE_CLOSURE)
def remove_closure(uow: UnitOfWork, ctx: JobContext, payload: RemoveClosurePayload) -> Applied:
    doctor = doctors.ensure_locked(uow, payload.doctor_id, None)
    row = uow.session.get(ScheduleClosure, (doctor.id, payload.exception_id))
    if row is None:
        raise not_found("exception", payload.exception_id)
    uow.session.delete(row)
    # Removing closed time cannot strand a booking; removing opened time can.
    collided = (
        conflicts.settle(uow, ctx, doctor, payload.on_conflict, row.starts_at, row.ends_at)
        if row.kind == "override_open"
        else []
    )
    return _finish(uow, ctx, doctor, row, "removed", collided, payload.on_conflict)
