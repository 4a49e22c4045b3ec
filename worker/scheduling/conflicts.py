"""Conflicts between a schedule change and booked appointments, and the strategies that settle them.

A service applies its change first (same transaction), then calls :func:`settle` for the range
it touched. The job's ``on_conflict`` picks the strategy:
- ``reject`` (default): raise; the transaction rolls back, nothing is applied, and the job's
  error lists the conflicting appointments.
- ``flag``: the change stays; each appointment gets ``needs_reschedule = true`` (audited).
- ``force``: the change stays; each appointment is cancelled with an audit row of its own.
No strategy deletes a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from shared.domain.conflicts import Conflict, find_conflicts
from shared.errors import MAX_VIOLATIONS, error
from shared.schedule_reader import DoctorRef, active_appointments, booking_of, load_inputs
from worker.pipeline.context import Conflicts, JobContext, Refusal
from worker.scheduling import audit

Strategy = Callable[[UnitOfWork, JobContext, list[Conflict]], None]


def appointment_state(row: Appointment) -> dict[str, Any]:
    """An appointment as audit rows record it: no patient reference (the row's id names the
    appointment, whose reference is sealed and falls under retention; audit rows never can)."""
    return {
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "seat": row.seat,
        "status": row.status,
        "needs_reschedule": row.needs_reschedule,
    }


def _reject(uow: UnitOfWork, ctx: JobContext, conflicts: list[Conflict]) -> None:
    err = error(
        "BOOKED_APPOINTMENTS_CONFLICT",
        count=len(conflicts),
        # Capped like validation errors: the first ones to act on, and how many there are.
        details={
            "strategy": "reject",
            "conflicts": [c.as_dict() for c in conflicts[:MAX_VIOLATIONS]],
            "conflict_count": len(conflicts),
        },
    )
    # The typed figure rides on the error: metrics count it without reading the details.
    raise Refusal.of(err, Conflicts(len(conflicts), "reject"))


def _mark(
    uow: UnitOfWork, ctx: JobContext, conflicts: list[Conflict], values: dict[str, Any], action: str
) -> None:
    for conflict in conflicts:
        row = uow.session.get(Appointment, uuid.UUID(conflict.booking.id))
        assert row is not None  # loaded in this transaction under the doctor's lock
        before = appointment_state(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = datetime.now(UTC)
        audit.record(
            uow,
            ctx,
            entity="appointment",
            entity_id=str(row.id),
            action=action,
            before=before,
            after={**appointment_state(row), "reasons": list(conflict.reasons)},
        )


def _flag(uow: UnitOfWork, ctx: JobContext, conflicts: list[Conflict]) -> None:
    _mark(uow, ctx, conflicts, {"needs_reschedule": True}, "flagged_for_reschedule")


def _force(uow: UnitOfWork, ctx: JobContext, conflicts: list[Conflict]) -> None:
    _mark(uow, ctx, conflicts, {"status": "cancelled"}, "cancelled_by_conflict")


STRATEGIES: dict[str, Strategy] = {"reject": _reject, "flag": _flag, "force": _force}


def settle(
    uow: UnitOfWork,
    ctx: JobContext,
    doctor: DoctorRef,
    strategy: str,
    start: datetime,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """Find appointments in ``[start, end)`` the (already applied) change conflicts with.

    Appointments already flagged ``needs_reschedule`` are known conflicts in someone's hands:
    they neither block a later change nor get flagged or cancelled again.
    """
    uow.session.flush()
    rows = [r for r in active_appointments(uow, doctor.id, start, end) if not r.needs_reschedule]
    if not rows:
        return []
    bookings = [booking_of(r) for r in rows]
    inputs = load_inputs(uow, doctor, min(b.start for b in bookings), max(b.end for b in bookings))
    conflicts = find_conflicts(inputs, bookings)
    if conflicts:
        STRATEGIES[strategy](uow, ctx, conflicts)
    return [{**c.as_dict(), "resolution": strategy} for c in conflicts]
