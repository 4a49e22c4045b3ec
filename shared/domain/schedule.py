"""Everything the pure rules need to know about one doctor's schedule, already in instants.

Services and the availability reader load a :class:`ScheduleInputs` (I/O lives elsewhere); the
functions here decide what time is open, what is closed and where a booking may go.

Decisions (docs/domain.md): working time on a local day is the plan's windows (dropped when the
day is a holiday of an attached calendar) plus ``override_open`` exceptions, clipped to that day;
closing exceptions (every other kind) and external busy time always win over opened time. A day
with no plan in force has no working time, even under ``override_open``. An appointment lies in
one working window, so it never spans a break or local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from shared.domain.plan import WorkingPlanPayload
from shared.domain.timeline import (
    Interval,
    clip,
    day_bounds,
    days_between,
    local_day,
    merge,
    overlaps,
    plan_on,
    plan_windows,
)
from shared.errors import Violation

OPENING_KINDS = frozenset({"override_open"})


@dataclass(frozen=True)
class Closure:
    """An exception in instants; ``kind`` says whether it opens or closes time."""

    start: datetime
    end: datetime
    kind: str
    ref: str

    @property
    def opens(self) -> bool:
        return self.kind in OPENING_KINDS


@dataclass(frozen=True)
class Booking:
    """An active appointment as the rules see it (no patient data)."""

    id: str
    start: datetime
    end: datetime
    seat: int = 1


@dataclass(frozen=True)
class ScheduleInputs:
    zone: ZoneInfo
    plans: tuple[WorkingPlanPayload, ...] = ()
    closures: tuple[Closure, ...] = ()
    holidays: frozenset[date] = frozenset()
    appointments: tuple[Booking, ...] = ()
    external_busy: tuple[Interval, ...] = ()
    _windows: dict[date, list[Interval]] = field(default_factory=dict, compare=False, repr=False)
    # Appointments by every local day they touch (built once): slot checks look at a few days'
    # appointments instead of all of them.
    _by_day: dict[date, list[Booking]] = field(default_factory=dict, compare=False, repr=False)

    def open_windows(self, day: date) -> list[Interval]:
        """Working time of one local day, merged, before closures are taken out."""
        cached = self._windows.get(day)
        if cached is not None:
            return cached
        plan = plan_on(self.plans, day)
        windows: list[Interval] = []
        if plan is not None:
            if day not in self.holidays:
                windows.extend(plan_windows(plan, day, self.zone))
            opened = [(e.start, e.end) for e in self.closures if e.opens]
            windows.extend(clip(opened, day_bounds(day, self.zone)))
        merged = merge(windows)
        self._windows[day] = merged
        return merged

    def closures_over(self, span: Interval) -> list[Closure]:
        return [e for e in self.closures if not e.opens and overlaps((e.start, e.end), span)]

    def capacity(self, day: date) -> tuple[int, int | None]:
        plan = plan_on(self.plans, day)
        if plan is None:
            return 1, None
        return plan.capacity_per_slot, plan.capacity_per_day

    def day_count(self, day: date, exclude: str | None = None) -> int:
        return sum(
            1 for a in self.appointments if a.id != exclude and local_day(a.start, self.zone) == day
        )

    def _near(self, span: Interval) -> set[Booking]:
        if self.appointments and not self._by_day:
            for appt in self.appointments:
                for day in days_between(appt.start, appt.end, self.zone):
                    self._by_day.setdefault(day, []).append(appt)
        return {a for day in days_between(*span, self.zone) for a in self._by_day.get(day, [])}

    def busy_seats(self, span: Interval, exclude: str | None = None) -> set[int]:
        return {
            a.seat for a in self._near(span) if a.id != exclude and overlaps((a.start, a.end), span)
        }


def placement_violations(
    inputs: ScheduleInputs, start: datetime, end: datetime, *, with_busy: bool = True
) -> list[Violation]:
    """Is ``[start, end)`` working time, outside exceptions, holidays (and external busy)?"""
    if end <= start:
        return [
            Violation(
                "APPOINTMENT_END_NOT_AFTER_START",
                "ends_at",
                "An appointment must end after it starts.",
            )
        ]
    out: list[Violation] = []
    day = local_day(start, inputs.zone)
    if not any(a <= start and end <= b for a, b in inputs.open_windows(day)):
        if day in inputs.holidays:
            out.append(
                Violation(
                    "APPOINTMENT_ON_HOLIDAY",
                    "starts_at",
                    "The doctor does not work on this holiday.",
                )
            )
        else:
            out.append(
                Violation(
                    "APPOINTMENT_OUTSIDE_WORKING_TIME",
                    "starts_at",
                    "The appointment must lie inside one working window of the doctor's plan.",
                )
            )
    for closure in inputs.closures_over((start, end)):
        out.append(
            Violation(
                "APPOINTMENT_IN_EXCEPTION",
                "starts_at",
                f"The doctor is unavailable then ({closure.kind}).",
            )
        )
    if with_busy and any(overlaps(b, (start, end)) for b in inputs.external_busy):
        out.append(
            Violation(
                "APPOINTMENT_EXTERNAL_BUSY", "starts_at", "The doctor's calendar is busy then."
            )
        )
    return out
