"""The rules of a weekly working plan, as one pure function reporting every violation at once.

Decisions (docs/domain.md): a shift runs from ``start`` to ``end`` on its own local day and
``24:00`` is the end of that day; a night shift is sent as two shifts on consecutive weekdays
(``22:00-24:00`` and ``00:00-06:00``), so ``22:00-06:00`` is SHIFT_END_NOT_AFTER_START. Breaks
lie inside their shift (touching its edges is allowed) and do not overlap each other. Every
working window (a shift minus its breaks) holds at least one slot; a remainder is not offered.
"""

from __future__ import annotations

from itertools import pairwise

from shared.domain.plan import Weekday, WorkingPlanPayload
from shared.domain.timeline import shift_windows
from shared.domain.times import format_minutes, is_known_zone, parse_hhmm
from shared.errors import Violation


def _hhmm(value: str, path: str, allow_end: bool, out: list[Violation]) -> int | None:
    minutes = parse_hhmm(value)
    if minutes is None or (minutes == 1440 and not allow_end):
        top = "24:00" if allow_end else "23:59"
        out.append(Violation("TIME_FORMAT", path, f"Use HH:MM from 00:00 to {top}."))
        return None
    return minutes


def _check_breaks(
    shift_path: str, span: tuple[int, int], breaks: list[tuple[int, int, str]]
) -> list[Violation]:
    out: list[Violation] = []
    kept: list[tuple[int, int, str]] = []
    for start, end, path in breaks:
        if end <= start:
            out.append(
                Violation("BREAK_END_NOT_AFTER_START", path, "A break must end after it starts.")
            )
        elif start < span[0] or end > span[1]:
            out.append(Violation("BREAK_OUTSIDE_SHIFT", path, "A break must lie inside its shift."))
        else:
            kept.append((start, end, path))
    kept.sort()
    for (_, prev_end, _), (start, _, path) in pairwise(kept):
        if start < prev_end:
            out.append(Violation("BREAK_OVERLAP", path, "Breaks of one shift must not overlap."))
    return out


def _day_places(plan: WorkingPlanPayload, day: Weekday) -> int:
    slots = 0
    for shift in plan.weekdays.get(day, []):
        slots += sum((b - a) // plan.slot_minutes for a, b in shift_windows(shift))
    return slots * plan.capacity_per_slot


def check_plan(plan: WorkingPlanPayload, business_start: str, business_end: str) -> list[Violation]:
    """Every violation of the plan at once, each with a stable code and a field path."""
    out: list[Violation] = []
    if not is_known_zone(plan.time_zone):
        out.append(
            Violation("TIME_ZONE_UNKNOWN", "time_zone", "The time zone is not a known IANA zone.")
        )
    open_min, close_min = parse_hhmm(business_start), parse_hhmm(business_end)
    valid_days: list[Weekday] = []
    for day, shifts in plan.weekdays.items():
        spans: list[tuple[int, int, int]] = []
        day_ok = True
        for i, shift in enumerate(shifts):
            path = f"weekdays.{day}[{i}]"
            start = _hhmm(shift.start, f"{path}.start", False, out)
            end = _hhmm(shift.end, f"{path}.end", True, out)
            breaks = [
                (
                    _hhmm(b.start, f"{path}.breaks[{j}].start", False, out),
                    _hhmm(b.end, f"{path}.breaks[{j}].end", True, out),
                    f"{path}.breaks[{j}]",
                )
                for j, b in enumerate(shift.breaks)
            ]
            if start is None or end is None:
                day_ok = False
                continue
            if end <= start:
                out.append(
                    Violation(
                        "SHIFT_END_NOT_AFTER_START", path, "A shift must end after it starts."
                    )
                )
                day_ok = False
                continue
            if (
                open_min is not None
                and close_min is not None
                and (start < open_min or end > close_min)
            ):
                out.append(
                    Violation(
                        "OUTSIDE_BUSINESS_HOURS",
                        path,
                        f"Shifts must lie within business hours "
                        f"{format_minutes(open_min)}-{format_minutes(close_min)}.",
                    )
                )
            complete = [(a, b, p) for a, b, p in breaks if a is not None and b is not None]
            broken = _check_breaks(path, (start, end), complete)
            out.extend(broken)
            if broken or len(complete) != len(breaks):
                day_ok = False
                continue
            windows = shift_windows(shift)
            if any(b - a < plan.slot_minutes for a, b in windows) or not windows:
                out.append(
                    Violation(
                        "SLOT_LONGER_THAN_WINDOW",
                        path,
                        f"Every working window (shift minus breaks) must hold at least one "
                        f"{plan.slot_minutes}-minute slot.",
                    )
                )
            spans.append((start, end, i))
        spans.sort()
        for (_, prev_end, _), (start, _, i) in pairwise(spans):
            if start < prev_end:
                out.append(
                    Violation(
                        "SHIFT_OVERLAP",
                        f"weekdays.{day}[{i}]",
                        "Shifts of one day must not overlap.",
                    )
                )
                day_ok = False
        if day_ok and shifts:
            valid_days.append(day)
    # A cap bigger than a short day's places simply does not bind that day; a cap no working day
    # can reach is a mistake (it can never apply).
    if plan.capacity_per_day is not None and valid_days:
        places = max(_day_places(plan, day) for day in valid_days)
        if plan.capacity_per_day > places:
            out.append(
                Violation(
                    "CAPACITY_EXCEEDS_TIME",
                    "capacity_per_day",
                    f"No working day has room for {plan.capacity_per_day} appointments after "
                    f"breaks (at most {places}).",
                )
            )
    return out
