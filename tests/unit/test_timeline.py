"""Local plan -> absolute instants, on ordinary days and on DST gap and overlap days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.booking import availability
from shared.domain.plan import WorkingPlanPayload
from shared.domain.schedule import ScheduleInputs
from shared.domain.timeline import day_bounds, local_instant, plan_windows


def z(hour: int, minute: int = 0, day: date = date(2026, 3, 8)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def sunday_plan(
    zone: str, start: str, end: str, slot: int = 60, **extra: Any
) -> WorkingPlanPayload:
    return WorkingPlanPayload.model_validate(
        {
            "doctor_id": "d",
            "time_zone": zone,
            "valid_from": "2026-01-01",
            "slot_minutes": slot,
            "weekdays": {"sun": [{"start": start, "end": end, **extra}]},
        }
    )


def starts(zone: str, plan: WorkingPlanPayload, day: date) -> list[str]:
    tz = ZoneInfo(zone)
    lo, hi = day_bounds(day, tz)
    slots = availability(ScheduleInputs(zone=tz, plans=(plan,)), lo, hi)
    return [s.start.astimezone(tz).strftime("%H:%M%z") for s in slots]


def test_new_york_spring_forward_window_loses_the_missing_hour() -> None:
    plan = sunday_plan("America/New_York", "00:00", "06:00")
    day = date(2026, 3, 8)
    assert plan_windows(plan, day, ZoneInfo("America/New_York")) == [(z(5), z(10))]
    assert starts("America/New_York", plan, day) == [
        "00:00-0500",
        "01:00-0500",
        "03:00-0400",
        "04:00-0400",
        "05:00-0400",
    ]


def test_time_inside_the_gap_moves_forward_by_the_gap() -> None:
    tz = ZoneInfo("America/New_York")
    assert local_instant(date(2026, 3, 8), 150, tz) == z(7, 30)  # 02:30 -> 03:30 EDT
    plan = sunday_plan("America/New_York", "02:30", "06:00", slot=30)
    assert starts("America/New_York", plan, date(2026, 3, 8))[0] == "03:30-0400"


def test_new_york_fall_back_window_gains_the_repeated_hour() -> None:
    plan = sunday_plan("America/New_York", "00:00", "04:00")
    day = date(2026, 11, 1)
    assert plan_windows(plan, day, ZoneInfo("America/New_York")) == [(z(4, day=day), z(9, day=day))]
    assert starts("America/New_York", plan, day) == [
        "00:00-0400",
        "01:00-0400",
        "01:00-0500",
        "02:00-0500",
        "03:00-0500",
    ]


def test_ambiguous_time_means_its_first_occurrence() -> None:
    tz = ZoneInfo("America/New_York")
    assert local_instant(date(2026, 11, 1), 90, tz) == z(5, 30, date(2026, 11, 1))  # 01:30 EDT


def test_berlin_spring_forward() -> None:
    plan = sunday_plan("Europe/Berlin", "01:00", "04:00", slot=30)
    day = date(2026, 3, 29)
    assert plan_windows(plan, day, ZoneInfo("Europe/Berlin")) == [(z(0, day=day), z(2, day=day))]
    assert starts("Europe/Berlin", plan, day) == [
        "01:00+0100",
        "01:30+0100",
        "03:00+0200",
        "03:30+0200",
    ]


def test_whole_local_days_have_23_and_25_hours_on_dst_days() -> None:
    berlin, ny = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    lo, hi = day_bounds(date(2026, 3, 29), berlin)
    assert hi - lo == timedelta(hours=23)
    lo, hi = day_bounds(date(2026, 11, 1), ny)
    assert hi - lo == timedelta(hours=25)


def test_shift_ending_at_24_00_ends_at_next_local_midnight() -> None:
    plan = sunday_plan("Europe/Berlin", "20:00", "24:00")
    day = date(2026, 1, 4)
    assert plan_windows(plan, day, ZoneInfo("Europe/Berlin")) == [(z(19, day=day), z(23, day=day))]
    assert starts("Europe/Berlin", plan, day)[-1] == "23:00+0100"


def test_breaks_split_the_window_and_remainders_are_not_offered() -> None:
    plan = sunday_plan(
        "Europe/Berlin", "08:00", "10:10", slot=30, breaks=[{"start": "09:00", "end": "09:15"}]
    )
    assert starts("Europe/Berlin", plan, date(2026, 1, 4)) == [
        "08:00+0100",
        "08:30+0100",
        "09:15+0100",
    ]


def test_a_break_in_the_spring_forward_gap_never_hands_break_time_back() -> None:
    # Found by hypothesis (tests/unit/test_properties.py): 01:15-03:45 with breaks 02:00-02:05
    # and 02:50-03:00 on America/New_York 2026-03-08. Cut in local minutes, the window after
    # the second break (03:00 = 07:00 UTC) started before the first break ended (02:05 = 07:05
    # UTC), and a slot covered 07:00-07:05, which is break time.
    tz = ZoneInfo("America/New_York")
    plan = WorkingPlanPayload.model_validate(
        {
            "doctor_id": "d",
            "time_zone": "America/New_York",
            "valid_from": "2026-01-01",
            "slot_minutes": 15,
            "weekdays": {
                "sun": [
                    {
                        "start": "01:15",
                        "end": "03:45",
                        "breaks": [
                            {"start": "02:00", "end": "02:05"},
                            {"start": "02:50", "end": "03:00"},
                        ],
                    }
                ]
            },
        }
    )
    day = date(2026, 3, 8)
    assert plan_windows(plan, day, tz) == [(z(6, 15), z(7)), (z(7, 5), z(7, 45))]
