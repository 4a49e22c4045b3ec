"""The circuit breaker per provider host, its state shared through Redis (real Redis, real HTTP).

Tests run with SCHEDQ_CALENDAR_BREAKER_FAIL_MAX=3 and a 2-second cool-down (tests/calendar_env).
"""

from __future__ import annotations

import time

import pytest
import redis
from prometheus_client import REGISTRY

from shared.errors import SchedqError
from shared.settings import get_settings
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import ics, make_doctor, run, vevent
from worker.calendar import breaker

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def sync_error(doctor: str, link_id: str) -> str | None:
    try:
        run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    except SchedqError as exc:
        return exc.code
    return None


def test_breaker_opens_after_repeated_failures_and_a_probe_closes_it(
    fresh_feed: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"brk-{uid}")
    fresh_feed.routes["/f.ics"] = Route(status=500)
    url = fresh_feed.url("/f.ics")
    link_id = run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})["link_id"]

    codes = [sync_error(doctor, link_id) for _ in range(3)]
    assert codes[:2] == ["CALENDAR_PROVIDER_ERROR"] * 2
    assert codes[2] == "CALENDAR_PROVIDER_CIRCUIT_OPEN"  # the third failure trips it
    assert fresh_feed.hits["/f.ics"] == 3
    host = breaker.host_of(url)
    opened = REGISTRY.get_sample_value("schedq_breaker_opened_total", {"provider": host})
    assert opened == 1

    # Another worker process (no in-process breaker yet) reads the open state from Redis.
    breaker._breakers.clear()
    state_key = f"schedq:breaker:{breaker.host_of(url)}:pybreaker:state"
    assert redis.Redis.from_url(get_settings().broker_url).get(state_key) == b"open"
    with pytest.raises(SchedqError) as caught:
        run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert caught.value.code == "CALENDAR_PROVIDER_CIRCUIT_OPEN"
    assert caught.value.retryable and caught.value.retry_after == 2.0
    assert fresh_feed.hits["/f.ics"] == 3  # not called while open

    fresh_feed.routes["/f.ics"] = Route(ics(vevent("a", "DTSTART:20261201T080000Z",
                                                   "DTEND:20261201T090000Z")))  # fmt: skip
    deadline = time.monotonic() + 10
    while sync_error(doctor, link_id) == "CALENDAR_PROVIDER_CIRCUIT_OPEN":
        assert time.monotonic() < deadline, "breaker never let a probe through"
        time.sleep(0.2)
    assert fresh_feed.hits["/f.ics"] == 4  # exactly one probe, and it closed the breaker
    assert redis.Redis.from_url(get_settings().broker_url).get(state_key) == b"closed"


def test_permanent_refusals_do_not_open_the_breaker(fresh_feed: FeedServer, uid: str) -> None:
    doctor = make_doctor(f"perm-{uid}")
    fresh_feed.routes["/f.ics"] = Route(status=401)
    url = fresh_feed.url("/f.ics")
    link_id = run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})["link_id"]
    codes = {sync_error(doctor, link_id) for _ in range(5)}
    assert codes == {"CALENDAR_AUTH_REFUSED"}
    assert fresh_feed.hits["/f.ics"] == 5
