"""Pure time expansion: a weekly plan on the doctor's local calendar -> absolute instants.

Decisions (docs/domain.md, "Time"):
- A local wall-clock time is resolved with ``fold=0`` (PEP 495): an ambiguous time (DST overlap)
  means its first occurrence; a time inside a DST gap is read with the offset in force before
  the gap, i.e. it lands that many minutes after the jump (02:30 on a 02:00->03:00 spring-forward
  day is 03:30). ``24:00`` is the next local day's midnight.
- Shifts and breaks are converted to instants at their edges, breaks are taken out of shifts in
  instants (a break inside a DST gap cannot hand back time), then slots are
  laid in real minutes from each window's start; a remainder shorter than a slot is not offered.
  A window therefore holds fewer slots on a spring-forward day and more on a fall-back day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.domain.plan import WEEKDAYS, Shift, WorkingPlanPayload
from shared.domain.times import parse_hhmm

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    day: date  # the local day whose plan produced the slot
    capacity: int


def local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Minutes after local midnight of ``day`` (1440 = next midnight) as a UTC instant."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> Interval:
    return local_instant(day, 0, zone), local_instant(day, 1440, zone)


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def days_between(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[date]:
    """Every local day that overlaps ``[start, end)`` (one extra at each edge is harmless)."""
    day = local_day(start, zone) - timedelta(days=1)
    last = local_day(end, zone)
    while day <= last:
        yield day
        day += timedelta(days=1)


def shift_windows(shift: Shift) -> list[tuple[int, int]]:
    """The working pieces of a (valid) shift in local minutes: the shift minus its breaks."""
    start, end = parse_hhmm(shift.start), parse_hhmm(shift.end)
    assert start is not None and end is not None
    out: list[tuple[int, int]] = []
    cursor = start
    for brk in sorted(shift.breaks, key=lambda b: parse_hhmm(b.start) or 0):
        b_start, b_end = parse_hhmm(brk.start) or 0, parse_hhmm(brk.end) or 0
        if b_start > cursor:
            out.append((cursor, b_start))
        cursor = max(cursor, b_end)
    if end > cursor:
        out.append((cursor, end))
    return out


def plan_on(plans: Sequence[WorkingPlanPayload], day: date) -> WorkingPlanPayload | None:
    """The plan in force on ``day``: the one with the latest ``valid_from`` not after it."""
    best: WorkingPlanPayload | None = None
    for plan in plans:
        if plan.valid_from <= day and (best is None or plan.valid_from > best.valid_from):
            best = plan
    return best


def plan_windows(plan: WorkingPlanPayload, day: date, zone: ZoneInfo) -> list[Interval]:
    """The day's working windows in instants: each shift's instants minus its breaks' instants.

    Breaks are taken out after both are resolved to instants, not in local minutes: on a
    spring-forward day a break inside the gap resolves after the jump (02:00 -> 03:00) while
    the local time after it may resolve earlier (03:00 stays 03:00), so windows cut in local
    minutes could overlap in instants and hand back break time. A break with no instants (its
    end resolves before its start) takes nothing away.
    """
    shifts = plan.weekdays.get(WEEKDAYS[day.weekday()], [])
    out: list[Interval] = []
    for shift in shifts:
        start, end = parse_hhmm(shift.start), parse_hhmm(shift.end)
        assert start is not None and end is not None
        pieces = [(local_instant(day, start, zone), local_instant(day, end, zone))]
        for brk in shift.breaks:
            b_start, b_end = parse_hhmm(brk.start) or 0, parse_hhmm(brk.end) or 0
            cut = (local_instant(day, b_start, zone), local_instant(day, b_end, zone))
            pieces = [piece for whole in pieces for piece in _minus(whole, cut)]
        # A window entirely inside a DST gap has no instants.
        out.extend((a, b) for a, b in pieces if b > a)
    return out


def _minus(whole: Interval, cut: Interval) -> list[Interval]:
    if cut[1] <= cut[0] or not overlaps(whole, cut):
        return [whole]
    return [(a, b) for a, b in ((whole[0], cut[0]), (cut[1], whole[1])) if b > a]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clip(intervals: Iterable[Interval], bounds: Interval) -> list[Interval]:
    lo, hi = bounds
    return [(max(a, lo), min(b, hi)) for a, b in intervals if a < hi and b > lo]


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def slots_in(window: Interval, minutes: int, day: date, capacity: int) -> list[Slot]:
    step = timedelta(minutes=minutes)
    out: list[Slot] = []
    cursor = window[0]
    while cursor + step <= window[1]:
        out.append(Slot(cursor, cursor + step, day, capacity))
        cursor += step
    return out
