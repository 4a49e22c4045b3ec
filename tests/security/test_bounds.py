"""Unbounded work from a provider: instance caps, byte caps after decompression on every path,
a total deadline, provider codes (not UNEXPECTED_ERROR) and no provider body in the logs.

Limits here come from tests/calendar_env (64 KiB bodies, 5 s deadline) unless a test sets its
own. Memory is measured with tracemalloc (what the sync allocates), never with a clock.
"""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.errors import SchedqError
from tests.calendar_support import busy, ics, make_doctor, run, vevent
from tests.security.hostile import HostileServer, body, endless, gzip_bomb, trickle

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
MiB = 1024 * 1024


def sync_fails(doctor: str, url: str, kind: str = "ics") -> tuple[SchedqError, str, int]:
    """Link, sync once; the error, the link id and the peak memory the sync allocated."""
    link_id = str(run("link_calendar", {"doctor_id": doctor, "kind": kind, "url": url})["link_id"])
    tracemalloc.start()
    try:
        with pytest.raises(SchedqError) as caught:
            run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, link_id, peak


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY"])
def test_a_tiny_feed_cannot_expand_into_millions_of_instances(
    hostile: HostileServer, uid: str, freq: str
) -> None:
    """Issue 12: a 205-byte SECONDLY feed grew a worker to 2.9 GB; MINUTELY wrote 259,893
    rows under the doctor's lock. Now: refused at the series cap, nothing written."""
    feed = ics(vevent(f"bomb-{uid}", "DTSTART:20261101T000000Z", "DTEND:20261101T000001Z",
                      f"RRULE:FREQ={freq}"))  # fmt: skip
    assert len(feed) < 300
    before = counter("schedq_calendar_busy_limited_total")
    err, link_id, peak = sync_fails(
        make_doctor(f"rr-{uid}-{freq}"), hostile.on("/b.ics", body(feed))
    )
    assert err.code == "ICS_TOO_MANY_INSTANCES" and not err.retryable
    assert err.details["limit"] == 1000
    assert busy(link_id) == []
    assert peak < 64 * MiB
    assert counter("schedq_calendar_busy_limited_total") == before + 1


def test_many_single_events_hit_the_per_link_cap(
    hostile: HostileServer, uid: str, calendar_env: pytest.MonkeyPatch
) -> None:
    calendar_env.setenv("SCHEDQ_CALENDAR_MAX_BUSY_ROWS_PER_LINK", "50")
    events = [
        vevent(f"s{i}-{uid}", f"DTSTART:202612{1 + i // 24:02d}T{i % 24:02d}0000Z",
               f"DTEND:202612{1 + i // 24:02d}T{i % 24:02d}3000Z")
        for i in range(60)
    ]  # fmt: skip
    err, link_id, _ = sync_fails(
        make_doctor(f"rows-{uid}"), hostile.on("/m.ics", body(ics(*events)))
    )
    assert err.code == "ICS_TOO_MANY_INSTANCES"
    assert busy(link_id) == []


@pytest.mark.parametrize(
    ("kind", "path", "behaviour"),
    [
        ("ics", "/endless.ics", endless()),
        ("ics", "/bomb.ics", gzip_bomb()),
        ("caldav", "/dav/endless/", endless(content_type="application/xml")),
    ],
    ids=["feed-300MB", "feed-gzip-bomb", "caldav-300MB"],
)
def test_every_response_body_is_capped_after_decompression(
    hostile: HostileServer, uid: str, kind: str, path: str, behaviour: Callable[..., Any]
) -> None:
    """Issue 12: a 300 MB CalDAV answer took a child from 128 MB to 1.67 GB; a gzip bomb
    overshot the feed cap by 110 MB. Now both stop at the cap (64 KiB here)."""
    before = counter("schedq_calendar_response_too_large_total")
    err, link_id, peak = sync_fails(make_doctor(f"big-{uid}-{kind}{len(path)}"),
                                    hostile.on(path, behaviour), kind)  # fmt: skip
    assert err.code == "CALENDAR_RESPONSE_TOO_LARGE"
    assert peak < 16 * MiB
    assert hostile.sent_bytes < 64 * MiB  # it stopped reading; the server gave up sending
    assert counter("schedq_calendar_response_too_large_total") == before + 1
    assert busy(link_id) == []


def test_a_trickling_server_is_cut_off_by_the_total_deadline(
    hostile: HostileServer, uid: str, calendar_env: pytest.MonkeyPatch
) -> None:
    """Issue 12: one byte per second held a doctor's lock for 3.5 minutes (each read was
    within the timeout). Now the whole interaction has one deadline."""
    calendar_env.setenv("SCHEDQ_CALENDAR_REQUEST_DEADLINE_SECONDS", "1.5")
    err, _link_id, _ = sync_fails(make_doctor(f"slow-{uid}"), hostile.on("/t.ics", trickle(0.1)))
    assert err.code == "CALENDAR_TIMEOUT" and err.retryable
    assert err.details == {"deadline": True}
    hostile.release.set()


@pytest.mark.parametrize(
    ("content_type", "answer"),
    [
        ("text/html", b"<html>SECRET-PROVIDER-PAGE not xml at all"),
        ("application/xml", b"<multistatus>SECRET-PROVIDER-PAGE unclosed"),
        (
            "application/xml",
            b"<?xml version='1.0'?><x:y xmlns:x='urn:x'>SECRET-PROVIDER-PAGE</x:y>",
        ),
    ],
    ids=["html", "broken-xml", "foreign-xml"],
)
def test_hostile_caldav_bodies_get_a_provider_code_and_never_reach_the_logs(
    hostile: HostileServer, uid: str, content_type: str, answer: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    url = hostile.on("/dav/cal/", body(answer, status=207, Content_Type=content_type))
    err, _link_id, _ = sync_fails(make_doctor(f"xml-{uid}-{len(answer)}"), url, "caldav")
    assert err.code == "CALENDAR_BAD_RESPONSE"  # an answer that is no multistatus
    assert err.severity != "CRITICAL"
    assert "SECRET-PROVIDER-PAGE" not in caplog.text
    assert "SECRET-PROVIDER-PAGE" not in str(err.as_dict())
