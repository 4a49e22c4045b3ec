"""The booking rule and availability: two views of one schedule that must always agree.

A slot is offered with ``remaining > 0`` exactly when booking that slot would pass
:func:`check_booking`; the property tests hold the two to that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.schedule import ScheduleInputs, placement_violations
from shared.domain.timeline import days_between, local_day, overlaps, plan_on, slots_in
from shared.errors import Violation

# Violations that mean "the time is taken", reported as SCHEDULE_CONFLICT (as PostgreSQL's
# exclusion constraint is); every other violation is VALIDATION_FAILED.
CONFLICT_CODES = frozenset({"APPOINTMENT_OVERLAP", "SLOT_CAPACITY_REACHED", "DAY_CAPACITY_REACHED"})
MAX_APPOINTMENT = timedelta(hours=12)


@dataclass(frozen=True)
class BookingCheck:
    violations: list[Violation]
    seat: int | None

    @property
    def is_conflict(self) -> bool:
        return any(v.code in CONFLICT_CODES for v in self.violations)


def check_booking(
    inputs: ScheduleInputs, start: datetime, end: datetime, exclude: str | None = None
) -> BookingCheck:
    """All violations of booking ``[start, end)``, and the lowest free seat when there are none.

    ``exclude`` is the appointment being moved (a reschedule does not collide with itself).
    """
    out = placement_violations(inputs, start, end)
    if end <= start:
        return BookingCheck(out, None)
    if end - start > MAX_APPOINTMENT:
        out.append(
            Violation("APPOINTMENT_TOO_LONG", "ends_at", "An appointment lasts at most 12 hours.")
        )
    day = local_day(start, inputs.zone)
    per_slot, per_day = inputs.capacity(day)
    busy = inputs.busy_seats((start, end), exclude)
    free = [s for s in range(1, per_slot + 1) if s not in busy]
    if not free:
        code = "APPOINTMENT_OVERLAP" if per_slot == 1 else "SLOT_CAPACITY_REACHED"
        out.append(Violation(code, "starts_at", "The requested time is already booked."))
    if per_day is not None and inputs.day_count(day, exclude) >= per_day:
        out.append(
            Violation("DAY_CAPACITY_REACHED", "starts_at", "The doctor's day is fully booked.")
        )
    return BookingCheck(out, free[0] if free and not out else None)


@dataclass(frozen=True)
class FreeSlot:
    start: datetime
    end: datetime
    remaining: int

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "remaining": self.remaining,
        }


def availability(inputs: ScheduleInputs, start: datetime, end: datetime) -> list[FreeSlot]:
    """Free slots fully inside ``[start, end)`` with their remaining capacity, in time order.

    A slot is offered only when it is entirely open: inside working time and touching no
    exception, holiday or external busy interval. Remaining = free seats, capped by what is left
    of the day's capacity.
    """
    out: list[FreeSlot] = []
    for day in days_between(start, end, inputs.zone):
        plan = plan_on(inputs.plans, day)
        if plan is None:
            continue
        per_slot, per_day = plan.capacity_per_slot, plan.capacity_per_day
        day_left = None if per_day is None else per_day - inputs.day_count(day)
        if day_left is not None and day_left <= 0:
            continue
        for window in inputs.open_windows(day):
            for slot in slots_in(window, plan.slot_minutes, day, per_slot):
                span = (slot.start, slot.end)
                if slot.start < start or slot.end > end:
                    continue
                if inputs.closures_over(span) or _busy(inputs.external_busy, span):
                    continue
                remaining = per_slot - len({s for s in inputs.busy_seats(span) if s <= per_slot})
                if day_left is not None:
                    remaining = min(remaining, day_left)
                if remaining > 0:
                    out.append(FreeSlot(slot.start, slot.end, remaining))
    return out


def _busy(intervals: Iterable[tuple[datetime, datetime]], span: tuple[datetime, datetime]) -> bool:
    return any(overlaps(b, span) for b in intervals)
