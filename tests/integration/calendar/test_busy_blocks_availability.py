"""Imported busy time reaches availability and booking: the calendar and domain halves meet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from producers.client import Client
from shared.errors import SchedqError
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import ics, next_monday, run, stamp, vevent

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
BERLIN = ZoneInfo("Europe/Berlin")


def _plan(doctor: str, monday: Any) -> dict[str, Any]:
    return {
        "doctor_id": doctor,
        "time_zone": "Europe/Berlin",
        "valid_from": monday.isoformat(),
        "slot_minutes": 30,
        "weekdays": {"mon": [{"start": "08:00", "end": "12:00"}]},
    }


def _starts(answer: dict[str, Any]) -> list[str]:
    return [
        datetime.fromisoformat(s["start"]).astimezone(BERLIN).strftime("%H:%M")
        for s in answer["slots"]
    ]


def test_synced_event_removes_slots_and_blocks_booking(feed_server: FeedServer, uid: str) -> None:
    doctor = f"busy-{uid}"
    monday = next_monday()
    run("set_working_plan", _plan(doctor, monday))
    client = Client()
    before = client.availability(doctor, monday, monday + timedelta(days=1))
    assert _starts(before) == [
        "08:00",
        "08:30",
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]

    feed_server.routes[f"/{uid}.ics"] = Route(
        ics(
            vevent(
                f"ward-round-{uid}",
                f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '0900')}",
                f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1000')}",
            )
        )
    )
    link_id = run(
        "link_calendar", {"doctor_id": doctor, "kind": "ics", "url": feed_server.url(f"/{uid}.ics")}
    )["link_id"]
    synced = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert synced["events_synced"] == {"import": 1, "delete": 0}

    after = client.availability(doctor, monday, monday + timedelta(days=1))
    assert after["schedule_version"] > before["schedule_version"]  # no stale cache answer
    assert _starts(after) == ["08:00", "08:30", "10:00", "10:30", "11:00", "11:30"]

    start = datetime.combine(monday, datetime.min.time(), BERLIN).replace(hour=9)
    with pytest.raises(SchedqError) as info:
        run(
            "book_appointment",
            {
                "doctor_id": doctor,
                "patient_ref": "P-1",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=30)).isoformat(),
            },
        )
    codes = [v["code"] for v in info.value.details["violations"]]
    assert codes == ["APPOINTMENT_EXTERNAL_BUSY"]
