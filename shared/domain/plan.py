"""Shape of a weekly working plan (pydantic) and its pure rules (no I/O)."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Literal

from pydantic import Field

from shared.domain.times import format_minutes, is_known_zone, parse_hhmm
from shared.errors import Violation
from shared.payloads import Payload

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DoctorId = str


class Shift(Payload):
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)


class WorkingPlanPayload(Payload):
    doctor_id: DoctorId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    time_zone: str = Field(min_length=1, max_length=64)
    valid_from: date
    slot_minutes: int = Field(ge=5, le=480)
    weekdays: dict[Weekday, list[Shift]] = Field(max_length=7)


def check_plan(plan: WorkingPlanPayload, business_start: str, business_end: str) -> list[Violation]:
    """Every violation of the plan at once, each with a stable code and a field path.

    Decisions: a shift runs from ``start`` to ``end`` on the same local day; ``24:00`` is the end
    of that day. A shift that would cross midnight is split by the sender into two shifts on
    consecutive weekdays, so ``22:00-06:00`` is an error (SHIFT_END_NOT_AFTER_START).
    """
    out: list[Violation] = []
    if not is_known_zone(plan.time_zone):
        out.append(
            Violation("TIME_ZONE_UNKNOWN", "time_zone", "The time zone is not a known IANA zone.")
        )
    open_min, close_min = parse_hhmm(business_start), parse_hhmm(business_end)
    for day, shifts in plan.weekdays.items():
        spans: list[tuple[int, int, int]] = []
        for i, shift in enumerate(shifts):
            path = f"weekdays.{day}[{i}]"
            start, end = parse_hhmm(shift.start), parse_hhmm(shift.end)
            if start is None or start == 1440:
                out.append(
                    Violation("TIME_FORMAT", f"{path}.start", "Use HH:MM from 00:00 to 23:59.")
                )
            if end is None:
                out.append(
                    Violation("TIME_FORMAT", f"{path}.end", "Use HH:MM from 00:00 to 24:00.")
                )
            if start is None or end is None or start == 1440:
                continue
            if end <= start:
                out.append(
                    Violation(
                        "SHIFT_END_NOT_AFTER_START", path, "A shift must end after it starts."
                    )
                )
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
    return out
