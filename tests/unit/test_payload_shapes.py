"""Strict HH:MM parsing and payload shape errors: stable codes, field paths, no echoed input."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.plan import WorkingPlanPayload
from shared.domain.times import parse_hhmm
from shared.errors import SchedqError
from shared.payloads import parse_payload


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
