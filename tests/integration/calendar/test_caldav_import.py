"""CalDAV import against a real Radicale server: full, incremental, expired token, faults."""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from shared.db.calendar import CalendarLink
from shared.db.uow import UnitOfWork
from shared.errors import Category, SchedqError
from tests.calendar_servers import RadicaleServer
from tests.calendar_support import busy, ics, make_doctor, next_monday, run, stamp, vevent

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def weekly(uid: str) -> str:
    monday = next_monday()
    moved_from, moved_to = monday + timedelta(days=14), monday + timedelta(days=15)
    return ics(
        vevent(
            uid,
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday)}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1100')}",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            f"EXDATE;TZID=Europe/Berlin:{stamp(monday + timedelta(days=7))}",
        ),
        vevent(
            uid,
            f"DTSTART;TZID=Europe/Berlin:{stamp(moved_to, '1500')}",
            f"DTEND;TZID=Europe/Berlin:{stamp(moved_to, '1600')}",
            f"RECURRENCE-ID;TZID=Europe/Berlin:{stamp(moved_from)}",
        ),
    ).decode()


def single(uid: str, hour: int = 8) -> str:
    day = next_monday() + timedelta(days=2)
    return ics(
        vevent(
            uid,
            f"DTSTART;TZID=Europe/Berlin:{stamp(day, f'{hour:02d}00')}",
            f"DTEND;TZID=Europe/Berlin:{stamp(day, f'{hour + 1:02d}00')}",
        )
    ).decode()


def setup_link(radicale: RadicaleServer, uid: str) -> tuple[str, str, str]:
    doctor = make_doctor(f"dav-{uid}")
    cal = radicale.make_calendar(f"/dav{uid}/cal/")
    radicale.put(cal + "weekly.ics", weekly(f"w-{uid}"))
    radicale.put(cal + "single.ics", single(f"s-{uid}"))
    payload = {"doctor_id": doctor, "kind": "caldav", "url": cal}
    link_id = str(run("link_calendar", payload)["link_id"])
    return doctor, cal, link_id


def sync(radicale: RadicaleServer, doctor: str, link_id: str) -> tuple[dict[str, Any], list]:
    radicale.requests.clear()
    outcome = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    return outcome, list(radicale.requests)


def test_full_then_unchanged_then_incremental(radicale_server: RadicaleServer, uid: str) -> None:
    doctor, cal, link_id = setup_link(radicale_server, uid)
    first, requests = sync(radicale_server, doctor, link_id)
    assert first["fetched"] == "full"
    assert requests == [("REPORT", f"/dav{uid}/cal/")] * 2  # listing + one multiget for all
    assert first["changes"] == {"inserted": 4, "updated": 0, "deleted": 0}
    rows = busy(link_id)
    # weekly: instance 1, (2 = EXDATE), 3 moved to the next day 15:00, 4; plus the single event
    assert [(r[0], r[2].astimezone(_berlin()).time()) for r in rows] == [
        (f"w-{uid}", time(10)),
        (f"s-{uid}", time(8)),
        (f"w-{uid}", time(15)),
        (f"w-{uid}", time(10)),
    ]

    unchanged, requests = sync(radicale_server, doctor, link_id)
    assert requests == [("REPORT", f"/dav{uid}/cal/")]  # reported: unchanged re-sync = 1
    assert unchanged["fetched"] == "incremental"
    assert unchanged["changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert busy(link_id) == rows

    radicale_server.put(cal + "single.ics", single(f"s-{uid}", hour=9))
    changed, requests = sync(radicale_server, doctor, link_id)
    # reported: incremental sync after one change = 2 (sync-collection + calendar-multiget)
    assert requests == [("REPORT", f"/dav{uid}/cal/")] * 2
    assert changed["changes"] == {"inserted": 0, "updated": 1, "deleted": 0}


def test_adds_and_deletes_arrive_incrementally(radicale_server: RadicaleServer, uid: str) -> None:
    doctor, cal, link_id = setup_link(radicale_server, uid)
    sync(radicale_server, doctor, link_id)
    radicale_server.delete(cal + "single.ics")
    radicale_server.put(cal + "extra.ics", single(f"x-{uid}", hour=12))
    outcome, _ = sync(radicale_server, doctor, link_id)
    assert outcome["fetched"] == "incremental"
    assert outcome["changes"] == {"inserted": 1, "updated": 0, "deleted": 1}
    assert {r[0] for r in busy(link_id)} == {f"w-{uid}", f"x-{uid}"}


def test_refused_sync_token_falls_back_to_a_full_resync_that_reconciles(
    radicale_server: RadicaleServer, uid: str
) -> None:
    doctor, cal, link_id = setup_link(radicale_server, uid)
    sync(radicale_server, doctor, link_id)
    radicale_server.delete(cal + "single.ics")
    with UnitOfWork() as uow:  # a token the server does not know (expired, or a reset server)
        uow.session.execute(
            update(CalendarLink)
            .where(CalendarLink.id == uuid.UUID(link_id))
            .values(sync_token="http://radicale.org/ns/sync/" + "0" * 64)
        )
        uow.commit()
    outcome, requests = sync(radicale_server, doctor, link_id)
    assert outcome["fetched"] == "full"
    assert outcome["changes"] == {"inserted": 0, "updated": 0, "deleted": 1}
    assert requests == [("REPORT", f"/dav{uid}/cal/")] * 3  # refused, full listing, multiget
    assert {r[0] for r in busy(link_id)} == {f"w-{uid}"}
    again, _ = sync(radicale_server, doctor, link_id)
    assert again["fetched"] == "incremental"


@pytest.mark.parametrize(
    ("status", "headers", "category", "retryable", "retry_after"),
    [
        (401, {"WWW-Authenticate": 'Basic realm="x"'}, Category.AUTHENTICATION, False, None),
        (403, {}, Category.AUTHORIZATION, False, None),
        (503, {"Retry-After": "5"}, Category.EXTERNAL_SERVICE, True, 5.0),
        (429, {"Retry-After": "9"}, Category.EXTERNAL_SERVICE, True, 9.0),
    ],
)
def test_caldav_faults_map_to_the_error_model(
    radicale_server: RadicaleServer,
    uid: str,
    status: int,
    headers: dict[str, str],
    category: Category,
    retryable: bool,
    retry_after: float | None,
) -> None:
    doctor, _cal, link_id = setup_link(radicale_server, uid)
    radicale_server.before = lambda method, path: (
        (status, headers) if path.startswith(f"/dav{uid}/") else None
    )
    try:
        with pytest.raises(SchedqError) as caught:
            run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    finally:
        radicale_server.before = None
    err = caught.value
    assert (err.category, err.retryable, err.retry_after) == (category, retryable, retry_after)
    if not retryable:
        assert "an operator must" in err.message
    assert busy(link_id) == []
    # A success afterwards resets the host's breaker counter (consecutive failures only).
    assert run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})["fetched"] == "full"


def _berlin():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_horizon_moving_on_triggers_one_full_listing(
    radicale_server: RadicaleServer, uid: str
) -> None:
    doctor, _cal, link_id = setup_link(radicale_server, uid)
    sync(radicale_server, doctor, link_id)
    with UnitOfWork() as uow:
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None and row.expanded_until is not None
        row.expanded_until = row.expanded_until - timedelta(days=2)
        uow.commit()
    outcome, requests = sync(radicale_server, doctor, link_id)
    assert outcome["fetched"] == "full"
    assert outcome["changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert len(requests) == 2
    assert sync(radicale_server, doctor, link_id)[0]["fetched"] == "incremental"
