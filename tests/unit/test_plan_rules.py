"""The first pure rules of a weekly plan: each violation has a code and a field path."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.plan import WorkingPlanPayload, check_plan
from shared.domain.times import parse_hhmm
from shared.errors import SchedqError
from shared.payloads import parse_payload


def plan(**weekdays: list[dict[str, str]]) -> WorkingPlanPayload:
    data: dict[str, Any] = {
        "doctor_id": "dr-1",
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-12-01",
        "slot_minutes": 15,
        "weekdays": weekdays,
    }
    return parse_payload(WorkingPlanPayload, data)


def codes(p: WorkingPlanPayload) -> list[tuple[str, str]]:
    return [(v.code, v.path) for v in check_plan(p, "06:00", "24:00")]


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("00:00", 0),
        ("08:30", 510),
        ("23:59", 1439),
        ("24:00", 1440),
        ("8:30", None),
        ("24:01", None),
        ("12:60", None),
        ("0830", None),
        (" 08:30", None),
        ("08:30 ", None),
        ("\uff12\uff13:00", None),
        ("1\uff12:00", None),  # fullwidth digits are not ASCII HH:MM
    ],
)
def test_strict_hhmm(text: str, minutes: int | None) -> None:
    assert parse_hhmm(text) == minutes


def test_valid_plan_has_no_violations() -> None:
    p = plan(mon=[{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}])
    assert codes(p) == []


def test_end_before_start_and_equal_are_rejected() -> None:
    p = plan(mon=[{"start": "17:00", "end": "09:00"}], tue=[{"start": "09:00", "end": "09:00"}])
    assert codes(p) == [
        ("SHIFT_END_NOT_AFTER_START", "weekdays.mon[0]"),
        ("SHIFT_END_NOT_AFTER_START", "weekdays.tue[0]"),
    ]


def test_all_violations_reported_at_once() -> None:
    p = plan(
        mon=[{"start": "8am", "end": "25:00"}],
        tue=[{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}],
        wed=[{"start": "05:00", "end": "07:00"}],
    )
    assert codes(p) == [
        ("TIME_FORMAT", "weekdays.mon[0].start"),
        ("TIME_FORMAT", "weekdays.mon[0].end"),
        ("SHIFT_OVERLAP", "weekdays.tue[1]"),
        ("OUTSIDE_BUSINESS_HOURS", "weekdays.wed[0]"),
    ]


def test_start_at_24_00_is_not_a_start() -> None:
    assert codes(plan(mon=[{"start": "24:00", "end": "24:00"}])) == [
        ("TIME_FORMAT", "weekdays.mon[0].start")
    ]


def test_unknown_time_zone() -> None:
    p = parse_payload(
        WorkingPlanPayload,
        {
            "doctor_id": "d",
            "time_zone": "Europe/Atlantis",
            "valid_from": "2026-12-01",
            "slot_minutes": 15,
            "weekdays": {},
        },
    )
    assert [v.code for v in check_plan(p, "06:00", "22:00")] == ["TIME_ZONE_UNKNOWN"]


@pytest.mark.parametrize(
    ("payload", "code", "path"),
    [
        (
            {"time_zone": "UTC", "valid_from": "2026-12-01", "slot_minutes": 15, "weekdays": {}},
            "FIELD_REQUIRED",
            "doctor_id",
        ),
        (
            {
                "doctor_id": "d",
                "time_zone": "UTC",
                "valid_from": "yesterday",
                "slot_minutes": 15,
                "weekdays": {},
            },
            "VALUE_INVALID",
            "valid_from",
        ),
        (
            {
                "doctor_id": "d",
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "slot_minutes": "x",
                "weekdays": {},
            },
            "VALUE_INVALID",
            "slot_minutes",
        ),
        (
            {
                "doctor_id": "d",
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "slot_minutes": 15,
                "weekdays": {"funday": []},
            },
            "VALUE_NOT_ALLOWED",
            "weekdays.funday.[key]",
        ),
        (
            {
                "doctor_id": "d",
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "slot_minutes": 15,
                "weekdays": {},
                "patient_name": "x",
            },
            "FIELD_UNKNOWN",
            "patient_name",
        ),
        (
            {
                "doctor_id": "'; DROP TABLE jobs;--",
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "slot_minutes": 15,
                "weekdays": {},
            },
            "VALUE_FORMAT",
            "doctor_id",
        ),
    ],
)
def test_shape_errors_have_stable_codes_and_paths(
    payload: dict[str, Any], code: str, path: str
) -> None:
    with pytest.raises(SchedqError) as info:
        parse_payload(WorkingPlanPayload, payload)
    err = info.value
    assert err.code == "VALIDATION_FAILED" and err.category == "VALIDATION"
    assert (code, path) in [(v["code"], v["path"]) for v in err.details["violations"]]
    # The message never echoes the raw input back.
    assert "DROP TABLE" not in err.message
