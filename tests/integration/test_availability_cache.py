"""Availability through both cache layers: hits and misses counted, a version bump makes a new
key (never a stale answer), and a dead PostgreSQL yields the last answer marked possibly stale."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine

from schedq.processes import free_port
from shared.availability import get_availability
from shared.availability_cache import CACHE_REQUESTS, AvailabilityCache
from shared.errors import SchedqError
from tests.domain_support import apply, plan_payload

MONDAY, TUESDAY = date(2026, 1, 5), date(2026, 1, 6)


def count(layer: str, result: str) -> float:
    return CACHE_REQUESTS.labels(layer, result)._value.get()


def test_cache_layers_versions_and_stale_fallback(
    database_url: str, redis_url: str, uid: str
) -> None:
    doctor = f"cache-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    first_cache, second_cache = AvailabilityCache(redis_url), AvailabilityCache(redis_url)

    local_miss, redis_miss = count("local", "miss"), count("redis", "miss")
    cold = get_availability(first_cache, doctor, MONDAY, TUESDAY)
    assert cold["cached"] is False and len(cold["slots"]) == 16
    assert (count("local", "miss"), count("redis", "miss")) == (local_miss + 1, redis_miss + 1)

    local_hit = count("local", "hit")
    assert get_availability(first_cache, doctor, MONDAY, TUESDAY)["cached"] is True
    assert count("local", "hit") == local_hit + 1

    redis_hit = count("redis", "hit")
    warm = get_availability(second_cache, doctor, MONDAY, TUESDAY)  # another process's view
    assert warm["cached"] is True and warm["slots"] == cold["slots"]
    assert count("redis", "hit") == redis_hit + 1

    booked = apply(
        "book_appointment",
        {
            "doctor_id": doctor,
            "starts_at": "2026-01-05T08:00:00+01:00",
            "ends_at": "2026-01-05T08:15:00+01:00",
            "patient_ref": "p-1",
        },
    )
    assert booked.status == "succeeded"
    fresh = get_availability(first_cache, doctor, MONDAY, TUESDAY)
    assert fresh["cached"] is False  # new version, new key: the old answer is never served
    assert fresh["schedule_version"] == cold["schedule_version"] + 1
    assert len(fresh["slots"]) == 15

    dead = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    stale = get_availability(first_cache, doctor, MONDAY, TUESDAY, engine=dead)
    assert stale["possibly_stale"] is True and stale["slots"] == fresh["slots"]
    # A process that never answered this request still finds the last answer in Redis.
    assert get_availability(AvailabilityCache(redis_url), doctor, MONDAY, TUESDAY, engine=dead)[
        "possibly_stale"
    ]
    with pytest.raises(SchedqError) as err:
        get_availability(AvailabilityCache(None), doctor, MONDAY, TUESDAY, engine=dead)
    assert err.value.code == "DATABASE_UNREACHABLE"
