"""DST gap and overlap days and a shift ending at 24:00, through jobs and availability."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from producers.client import Client
from tests.domain_support import apply, plan_payload

pytestmark = pytest.mark.usefixtures("database_url", "redis_url", "all_day_hours")


def doctor_with(uid: str, zone: str, days: dict[str, Any], slot: int = 60) -> str:
    doctor = f"dst-{uid}"
    view = apply("set_working_plan", plan_payload(doctor, zone, slot=slot, days=days))
    assert view.status == "succeeded", view.error
    return doctor


def local_starts(answer: dict[str, Any], zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [
        datetime.fromisoformat(s["start"]).astimezone(tz).strftime("%H:%M%z")
        for s in answer["slots"]
    ]


def book(doctor: str, start: str, end: str, ref: str = "p-1") -> Any:
    payload = {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": ref}
    return apply("book_appointment", payload)


def test_new_york_spring_forward(uid: str) -> None:
    zone = "America/New_York"
    doctor = doctor_with(uid, zone, {"sun": [{"start": "00:00", "end": "06:00"}]})
    answer = Client().availability(doctor, date(2026, 3, 8), date(2026, 3, 9))
    assert local_starts(answer, zone) == [
        "00:00-0500",
        "01:00-0500",
        "03:00-0400",
        "04:00-0400",
        "05:00-0400",
    ]
    # One real hour across the jump (01:30 EST -> 03:30 EDT) is a valid appointment.
    view = book(doctor, "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z")
    assert view.status == "succeeded", view.error
    assert view.result is not None and view.result["starts_at"] == "2026-03-08T06:30:00+00:00"


def test_new_york_fall_back_repeated_hour_is_two_slots(uid: str) -> None:
    zone = "America/New_York"
    doctor = doctor_with(uid, zone, {"sun": [{"start": "00:00", "end": "04:00"}]})
    answer = Client().availability(doctor, date(2026, 11, 1), date(2026, 11, 2))
    assert local_starts(answer, zone) == [
        "00:00-0400",
        "01:00-0400",
        "01:00-0500",
        "02:00-0500",
        "03:00-0500",
    ]
    # 01:00 EDT and 01:00 EST are different instants: both can be booked.
    assert (
        book(doctor, "2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-04:00").status == "succeeded"
    )
    assert (
        book(doctor, "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00").status == "succeeded"
    )
    after = Client().availability(doctor, date(2026, 11, 1), date(2026, 11, 2))
    assert local_starts(after, zone) == ["00:00-0400", "02:00-0500", "03:00-0500"]


def test_berlin_spring_forward_and_whole_day_exception(uid: str) -> None:
    zone = "Europe/Berlin"
    doctor = doctor_with(uid, zone, {"sun": [{"start": "01:00", "end": "04:00"}]}, slot=30)
    answer = Client().availability(doctor, date(2026, 3, 29), date(2026, 3, 30))
    assert local_starts(answer, zone) == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200"]
    exc = apply(
        "add_exception",
        {
            "doctor_id": doctor,
            "exception_id": "conf-1",
            "kind": "conference",
            "days": {"first": "2026-03-29", "last": "2026-03-29"},
        },
    )
    assert exc.status == "succeeded", exc.error
    assert exc.result is not None
    # A 23-hour local day, stored as instants.
    assert (exc.result["starts_at"], exc.result["ends_at"]) == (
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
    )
    assert Client().availability(doctor, date(2026, 3, 29), date(2026, 3, 30))["slots"] == []


def test_shift_ending_at_midnight_and_night_shift_split_over_two_days(uid: str) -> None:
    zone = "Europe/Berlin"
    days = {
        "mon": [{"start": "20:00", "end": "24:00"}],
        "tue": [{"start": "00:00", "end": "02:00"}],
    }
    doctor = doctor_with(uid, zone, days)
    answer = Client().availability(doctor, date(2026, 1, 5), date(2026, 1, 7))
    assert [s["start"] for s in answer["slots"]] == [
        f"2026-01-{d}T{h}:00:00+00:00"
        for d, h in [
            ("05", "19"),
            ("05", "20"),
            ("05", "21"),
            ("05", "22"),
            ("05", "23"),
            ("06", "00"),
        ]
    ]
    assert book(doctor, "2026-01-05T22:00:00Z", "2026-01-05T23:00:00Z").status == "succeeded"
    # An appointment cannot span local midnight (two days' windows are not merged).
    across = book(doctor, "2026-01-05T22:30:00Z", "2026-01-05T23:30:00Z", "p-2")
    assert across.status == "rejected"
    assert across.error is not None
    codes = [v["code"] for v in across.error["details"]["violations"]]
    assert "APPOINTMENT_OUTSIDE_WORKING_TIME" in codes
    assert datetime(2026, 1, 5, 23, tzinfo=UTC).astimezone(ZoneInfo(zone)).hour == 0
