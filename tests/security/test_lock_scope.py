"""A slow or failing provider must not hold a doctor: real workers, real PostgreSQL, a hostile
server on 127.0.0.1. Ordering is proved by events (the provider holds the request until the
test releases it), not by clocks: the booking for the same doctor succeeds while the sync is
provably still inside its provider call.

Before (issue 12): a sync fetched under the doctor's lock and order position; a failing
provider kept a booking for the same doctor waiting 3 min 43 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from producers.client import Client, JobView
from tests.calendar_support import ics, next_monday, vevent
from tests.conftest import wait_until
from tests.domain_support import plan_payload
from tests.security.hostile import HostileServer, hang_then, reply
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
FEED = ics(vevent("ext", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"))
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def workers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    """The compose topology: one node per queue, prefork. The calendar node waits for a
    provider as long as the test holds it (long timeouts), so only the test decides when."""
    logs: Path = tmp_path_factory.mktemp("lock-scope")
    slow = {"SCHEDQ_CALENDAR_HTTP_TIMEOUT": "50", "SCHEDQ_CALENDAR_REQUEST_DEADLINE_SECONDS": "55"}
    calendar = WorkerProcess(logs, "sec-calendar", queues="calendar", concurrency=2, env=slow)
    schedule = WorkerProcess(logs, "sec-schedule", queues="schedule", concurrency=1)
    calendar.wait_ready()
    schedule.wait_ready()
    yield calendar, schedule
    calendar.stop()
    schedule.stop()


def done(client: Client, kind: str, payload: dict[str, object], timeout: float = 60) -> JobView:
    view = client.wait(client.submit(kind, payload).id, timeout=timeout)
    assert view.status == "succeeded", view
    return view


def prepare(client: Client, doctor: str, url: str) -> str:
    done(client, "set_working_plan", plan_payload(doctor))
    linked = done(client, "link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})
    return str(linked.result["link_id"])  # type: ignore[index]


def booking(doctor: str, hour: int) -> dict[str, object]:
    start = datetime.combine(next_monday(2), datetime.min.time(), BERLIN) + timedelta(hours=hour)
    return {
        "doctor_id": doctor,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=15)).isoformat(),
        "patient_ref": "P-lock-scope",
    }


def test_a_hanging_provider_does_not_delay_a_booking_for_the_same_doctor(
    workers: tuple[WorkerProcess, WorkerProcess], hostile: HostileServer, uid: str
) -> None:
    calendar, _schedule = workers
    client = Client(submitter="security")
    doctor = f"hang-{uid}"
    link_id = prepare(client, doctor, hostile.on("/hang.ics", hang_then(FEED)))
    sync = client.submit("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert hostile.arrived.wait(45), calendar.log()  # the sync is inside the provider call
    started = time.monotonic()
    booked = done(client, "book_appointment", booking(doctor, 9))
    waited = time.monotonic() - started
    # The provider still holds the sync's request: the booking did not wait for it.
    assert not hostile.release.is_set()
    assert client.get_job(sync.id).status == "running"
    hostile.release.set()
    synced = client.wait(sync.id, timeout=60)
    assert synced.status == "succeeded", calendar.log()
    assert booked.result and synced.result and synced.result["changes"]["inserted"] == 1
    print(f"booking while the provider hung: {waited:.2f}s")  # for the report, not asserted


def test_a_failing_provider_retrying_does_not_hold_the_doctor(
    workers: tuple[WorkerProcess, WorkerProcess], hostile: HostileServer, uid: str
) -> None:
    """The provider fails (503), the sync is retried, and its second attempt is held by the
    provider: a booking submitted then still goes through at once."""
    calendar, _schedule = workers
    client = Client(submitter="security")
    doctor = f"fail-{uid}"
    attempts: list[int] = []

    def failing(h: BaseHTTPRequestHandler, s: HostileServer) -> None:
        attempts.append(1)
        if len(attempts) == 2:
            s.arrived.set()
            s.release.wait(120)
        reply(h, 503, b"down", Retry_After="1")

    link_id = prepare(client, doctor, hostile.on("/fail.ics", failing))
    sync = client.submit("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert hostile.arrived.wait(45), calendar.log()  # attempt 1 failed, attempt 2 is held
    done(client, "book_appointment", booking(doctor, 10))
    assert client.get_job(sync.id).status == "running"
    hostile.release.set()
    final = client.wait(sync.id, timeout=90)
    # Retried with the provider's code on every attempt, then set aside for an operator.
    assert final.status == "dead", final
    assert "CALENDAR_PROVIDER_ERROR" in str(final.model_dump()), final
    assert wait_until(lambda: len(attempts) >= 3, timeout=5)
