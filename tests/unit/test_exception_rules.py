"""Exceptions on the local calendar become instants; malformed ones list every problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.closures import AddClosurePayload, resolve_closure
from shared.domain.holidays import SetHolidaysPayload, check_holidays

HOURS = ("06:00", "22:00")


def resolve(zone: str = "Europe/Berlin", **kw: Any) -> tuple[Any, list[str]]:
    payload = AddClosurePayload.model_validate(
        {"doctor_id": "d", "exception_id": "e1", "kind": kw.pop("kind", "vacation"), **kw}
    )
    span, violations = resolve_closure(payload, ZoneInfo(zone), HOURS)
    return span, [f"{v.code}@{v.path}" for v in violations]


def test_whole_days_cover_local_midnight_to_midnight_across_dst() -> None:
    span, errors = resolve(days={"first": "2026-03-29", "last": "2026-03-29"})
    assert errors == []
    assert span == (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert span[1] - span[0] == timedelta(hours=23)


def test_local_range_in_new_york_fall_back() -> None:
    span, errors = resolve(
        "America/New_York", range={"start": "2026-11-01T00:00", "end": "2026-11-01T03:00"}
    )
    assert errors == [] and span[1] - span[0] == timedelta(hours=4)


def test_exactly_one_of_days_or_range() -> None:
    assert resolve()[1] == ["EXCEPTION_SPAN_REQUIRED@days"]
    both = resolve(
        days={"first": "2026-01-01", "last": "2026-01-01"},
        range={"start": "2026-01-01T08:00", "end": "2026-01-01T09:00"},
    )
    assert both[1] == ["EXCEPTION_SPAN_REQUIRED@days"]


def test_backwards_and_too_long_and_empty_ranges() -> None:
    assert resolve(days={"first": "2026-01-02", "last": "2026-01-01"})[1] == [
        "EXCEPTION_END_BEFORE_START@days.last"
    ]
    assert resolve(days={"first": "2026-01-01", "last": "2027-06-01"})[1] == [
        "EXCEPTION_TOO_LONG@days.last"
    ]
    # 02:00-03:00 does not exist in New York on 2026-03-08: the range has no instants.
    gap = resolve(
        "America/New_York", range={"start": "2026-03-08T02:00", "end": "2026-03-08T02:30"}
    )
    assert gap[1] == []  # 02:00 -> 03:00 EDT, 02:30 -> 03:30 EDT: still 30 real minutes
    assert resolve(range={"start": "2026-01-01T09:00", "end": "2026-01-01T09:00"})[1] == [
        "EXCEPTION_END_NOT_AFTER_START@range.end"
    ]


def test_override_open_is_a_range_inside_business_hours() -> None:
    kind = "override_open"
    ok = resolve(kind=kind, range={"start": "2026-01-03T09:00", "end": "2026-01-03T12:00"})
    assert ok[1] == []
    assert resolve(kind=kind, range={"start": "2026-01-03T05:00", "end": "2026-01-03T12:00"})[
        1
    ] == ["OUTSIDE_BUSINESS_HOURS@range"]
    assert resolve(kind=kind, days={"first": "2026-01-03", "last": "2026-01-03"})[1] == [
        "OUTSIDE_BUSINESS_HOURS@days"
    ]


def test_holiday_calendar_duplicates() -> None:
    payload = SetHolidaysPayload.model_validate(
        {
            "calendar": "de",
            "dates": [{"date": "2026-12-25", "name": "a"}, {"date": "2026-12-25", "name": "b"}],
            "doctor_ids": ["x", "x"],
        }
    )
    assert [(v.code, v.path) for v in check_holidays(payload)] == [
        ("HOLIDAY_DATE_DUPLICATE", "dates[1].date"),
        ("DOCTOR_DUPLICATE", "doctor_ids[1]"),
    ]


def test_local_range_must_not_carry_an_offset() -> None:
    from shared.errors import SchedqError
    from shared.payloads import parse_payload

    payload = {
        "doctor_id": "d",
        "exception_id": "e",
        "kind": "conference",
        "range": {"start": "2026-01-05T08:00:00+01:00", "end": "2026-01-05T12:00"},
    }
    with pytest.raises(SchedqError) as caught:
        parse_payload(AddClosurePayload, payload)
    violations = caught.value.details["violations"]
    assert [(v["code"], v["path"]) for v in violations] == [("OFFSET_NOT_ALLOWED", "range.start")]
