"""A calendar sync's ``Decision`` carries the events it wrote and the conflicts it reported.

The job goes through the real executor (``run_delivery``) against a real ICS feed on 127.0.0.1;
the metrics hooks count these typed figures from the decision, never from the stored result.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from producers.client import JobRequest
from shared.settings import get_settings
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import (
    add_appointment,
    ics,
    make_doctor,
    next_monday,
    run,
    stamp,
    vevent,
)
from tests.domain_support import record
from worker.pipeline.context import CalendarEvents, Conflicts
from worker.pipeline.executor import Decision, run_delivery

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
BERLIN = ZoneInfo("Europe/Berlin")


def _feed(tag: str) -> bytes:
    """Two busy hours next Monday: 10:00-11:00 and 14:00-15:00 Berlin time."""
    monday = next_monday()
    return ics(
        vevent(
            f"a-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '1000')}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1100')}",
        ),
        vevent(
            f"b-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '1400')}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1500')}",
        ),
    )


def _sync_job(feed_server: FeedServer, doctor: str, tag: str) -> uuid.UUID:
    feed_server.routes[f"/{tag}.ics"] = Route(_feed(tag))
    payload = {"doctor_id": doctor, "kind": "ics", "url": feed_server.url(f"/{tag}.ics")}
    link_id = str(run("link_calendar", payload)["link_id"])
    (view,) = record([JobRequest("sync_calendar", {"doctor_id": doctor, "link_id": link_id})])
    return uuid.UUID(view.id)


def _delivered(job_id: uuid.UUID) -> Decision:
    decision = run_delivery(job_id, get_settings())
    assert (decision.action, decision.kind, decision.error) == (
        "succeeded", "sync_calendar", None
    )  # fmt: skip
    return decision


def test_a_sync_decision_carries_the_events_it_imported(feed_server: FeedServer, uid: str) -> None:
    doctor = make_doctor(f"exe-{uid}")
    decision = _delivered(_sync_job(feed_server, doctor, uid))
    assert decision.events == CalendarEvents(imported=2)
    assert decision.conflicts is None


def test_a_sync_decision_reports_busy_time_over_a_booking(
    feed_server: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"exc-{uid}")
    add_appointment(doctor, datetime.combine(next_monday(), time(10, 30), BERLIN))
    decision = _delivered(_sync_job(feed_server, doctor, uid))
    assert decision.events == CalendarEvents(imported=2)
    assert decision.conflicts == Conflicts(1, "report")
