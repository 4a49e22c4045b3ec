"""A feed expanding to more busy rows than one statement can carry (65,535 bind parameters)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import busy, ics, make_doctor, next_monday, run, stamp, vevent

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def test_feed_with_twelve_thousand_busy_rows_imports_and_resyncs(
    feed_server: FeedServer, uid: str
) -> None:
    monday = next_monday()
    # 120 daily series of 100 occurrences each (inside the tests' 120-day horizon).
    events = []
    for i in range(120):
        at = f"{8 + i // 12:02d}{(i % 12) * 5:02d}"
        until = f"{8 + i // 12:02d}{(i % 12) * 5 + 4:02d}"
        events.append(
            vevent(
                f"series-{i}-{uid}",
                f"DTSTART;TZID=Europe/Berlin:{stamp(monday, at)}",
                f"DTEND;TZID=Europe/Berlin:{stamp(monday, until)}",
                "RRULE:FREQ=DAILY;COUNT=100",
            )
        )
    feed_server.routes[f"/{uid}.ics"] = Route(ics(*events))
    doctor = make_doctor(f"big-{uid}")
    link_id = str(
        run(
            "link_calendar",
            {"doctor_id": doctor, "kind": "ics", "url": feed_server.url(f"/{uid}.ics")},
        )["link_id"]
    )
    first: dict[str, Any] = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert first["changes"] == {"inserted": 12_000, "updated": 0, "deleted": 0}
    assert len(busy(link_id)) == 12_000
    # The feed shrinks to nothing: 12,000 deletions, also beyond one statement's parameters.
    feed_server.routes[f"/{uid}.ics"] = Route(
        ics(vevent(f"last-{uid}", f"DTSTART:{stamp(monday)}Z", f"DTEND:{stamp(monday, '1100')}Z"))
    )
    second = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert second["changes"] == {"inserted": 1, "updated": 0, "deleted": 12_000}
