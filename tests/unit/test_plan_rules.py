"""Each working-plan rule with its edge cases; all violations of a plan come back together."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.plan import WorkingPlanPayload
from shared.domain.plan_rules import check_plan
from worker.scheduling.plans import unused_minutes


def plan(shifts: list[dict[str, Any]], **extra: Any) -> WorkingPlanPayload:
    data: dict[str, Any] = {
        "doctor_id": "d1",
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-01-05",
        "slot_minutes": 15,
        "weekdays": {"mon": shifts},
    }
    data.update(extra)
    return WorkingPlanPayload.model_validate(data)


def codes(
    p: WorkingPlanPayload, hours: tuple[str, str] = ("06:00", "22:00")
) -> list[tuple[str, str]]:
    return [(v.code, v.path) for v in check_plan(p, *hours)]


def test_valid_plan_with_breaks_has_no_violation() -> None:
    shift = {"start": "08:00", "end": "12:00", "breaks": [{"start": "10:00", "end": "10:15"}]}
    assert codes(plan([shift, {"start": "13:00", "end": "17:00"}])) == []


@pytest.mark.parametrize("value", ["8:00", "08:0", "25:00", "12:60", "0800", "24:00", "ab:cd"])
def test_start_must_be_strict_hhmm_before_24(value: str) -> None:
    assert ("TIME_FORMAT", "weekdays.mon[0].start") in codes(
        plan([{"start": value, "end": "12:00"}])
    )


def test_end_may_be_24_00_but_not_beyond() -> None:
    assert codes(plan([{"start": "20:00", "end": "24:00"}]), ("00:00", "24:00")) == []
    assert codes(plan([{"start": "20:00", "end": "24:01"}]), ("00:00", "24:00")) == [
        ("TIME_FORMAT", "weekdays.mon[0].end")
    ]


@pytest.mark.parametrize("start,end", [("22:00", "06:00"), ("09:00", "09:00")])
def test_shift_crossing_midnight_or_empty_is_refused(start: str, end: str) -> None:
    hours = ("00:00", "24:00")
    assert codes(plan([{"start": start, "end": end}]), hours) == [
        ("SHIFT_END_NOT_AFTER_START", "weekdays.mon[0]")
    ]


def test_night_shift_is_two_shifts_on_consecutive_days() -> None:
    p = plan([{"start": "22:00", "end": "24:00"}])
    p = p.model_copy(
        update={
            "weekdays": {
                **p.weekdays,
                "tue": [p.weekdays["mon"][0].model_copy(update={"start": "00:00", "end": "06:00"})],
            }
        }
    )
    assert codes(p, ("00:00", "24:00")) == []


def test_shift_outside_business_hours() -> None:
    assert codes(plan([{"start": "05:30", "end": "12:00"}])) == [
        ("OUTSIDE_BUSINESS_HOURS", "weekdays.mon[0]")
    ]
    assert codes(plan([{"start": "06:00", "end": "22:00"}])) == []


def test_overlapping_shifts_but_touching_ones_are_fine() -> None:
    overlap = [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}]
    assert codes(plan(overlap)) == [("SHIFT_OVERLAP", "weekdays.mon[1]")]
    touching = [{"start": "08:00", "end": "12:00"}, {"start": "12:00", "end": "14:00"}]
    assert codes(plan(touching)) == []


@pytest.mark.parametrize(
    "brk",
    [
        {"start": "07:30", "end": "08:30"},
        {"start": "11:45", "end": "12:15"},
        {"start": "13:00", "end": "13:30"},
    ],
)
def test_break_crossing_or_outside_shift_edges(brk: dict[str, str]) -> None:
    shift = {"start": "08:00", "end": "12:00", "breaks": [brk]}
    assert codes(plan([shift])) == [("BREAK_OUTSIDE_SHIFT", "weekdays.mon[0].breaks[0]")]


def test_break_touching_shift_edges_is_allowed() -> None:
    shift = {"start": "08:00", "end": "12:00", "breaks": [{"start": "08:00", "end": "08:30"}]}
    assert codes(plan([shift])) == []


def test_breaks_must_not_overlap_or_be_empty() -> None:
    breaks = [
        {"start": "09:00", "end": "10:00"},
        {"start": "09:30", "end": "10:30"},
        {"start": "11:00", "end": "11:00"},
    ]
    assert codes(plan([{"start": "08:00", "end": "12:00", "breaks": breaks}])) == [
        ("BREAK_END_NOT_AFTER_START", "weekdays.mon[0].breaks[2]"),
        ("BREAK_OVERLAP", "weekdays.mon[0].breaks[1]"),
    ]


def test_every_window_must_hold_a_slot_and_a_remainder_is_reported() -> None:
    short = {"start": "08:00", "end": "09:00", "breaks": [{"start": "08:10", "end": "08:50"}]}
    assert codes(plan([short])) == [("SLOT_LONGER_THAN_WINDOW", "weekdays.mon[0]")]
    ragged = plan([{"start": "08:00", "end": "09:10"}], slot_minutes=20)
    assert codes(ragged) == []
    assert unused_minutes(ragged) == {"mon": 10}


def test_capacity_per_day_must_fit_the_time_left_after_breaks() -> None:
    shift = {"start": "08:00", "end": "09:00", "breaks": [{"start": "08:30", "end": "08:45"}]}
    # 3 slots left after the break, 2 seats each: 6 places.
    assert codes(plan([shift], capacity_per_slot=2, capacity_per_day=6)) == []
    assert codes(plan([shift], capacity_per_slot=2, capacity_per_day=7)) == [
        ("CAPACITY_EXCEEDS_TIME", "capacity_per_day")
    ]


def test_unknown_zone_and_every_other_violation_reported_at_once() -> None:
    bad = plan(
        [{"start": "7:00", "end": "12:00"}, {"start": "13:00", "end": "12:00"}],
        time_zone="Mars/Olympus",
    )
    assert codes(bad) == [
        ("TIME_ZONE_UNKNOWN", "time_zone"),
        ("TIME_FORMAT", "weekdays.mon[0].start"),
        ("SHIFT_END_NOT_AFTER_START", "weekdays.mon[1]"),
    ]


def test_capacity_per_day_may_exceed_a_short_day_but_must_fit_some_day() -> None:
    long_mon = plan([{"start": "08:00", "end": "12:00"}], capacity_per_day=16)
    short = long_mon.model_copy(
        update={
            "weekdays": {
                **long_mon.weekdays,
                "sat": [long_mon.weekdays["mon"][0].model_copy(update={"end": "09:00"})],
            }
        }
    )
    assert codes(short) == []  # 16 places on Monday; Saturday's 4 are simply not capped
    assert codes(short.model_copy(update={"capacity_per_day": 17})) == [
        ("CAPACITY_EXCEEDS_TIME", "capacity_per_day")
    ]
