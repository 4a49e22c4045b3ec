"""ICS feed import against a real HTTP server on 127.0.0.1 and the run's private database."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from shared.db.calendar import CalendarCredential, CalendarLink
from shared.db.jobs import AuditEntry
from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from shared.errors import Category, SchedqError
from shared.schedule_reader import load_external_busy
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import (
    add_appointment,
    add_credential,
    busy,
    ics,
    make_doctor,
    next_monday,
    run,
    run_applied,
    stamp,
    vevent,
)
from worker.pipeline.context import CalendarEvents, Conflicts

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
BERLIN = ZoneInfo("Europe/Berlin")


def feed_body(tag: str, moved: bool = False, with_lunch: bool = True) -> bytes:
    monday = next_monday()
    start, end = ("1400", "1500") if moved else ("0800", "0900")
    events = [
        vevent(
            f"weekly-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday)}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1100')}",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        ),
        vevent(
            f"single-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday, start)}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, end)}",
        ),
    ]
    if with_lunch:
        events.append(
            vevent(
                f"lunch-{tag}",
                f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '1200')}",
                f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1300')}",
            )
        )
    return ics(*events)


def link(doctor: str, url: str, **extra: Any) -> str:
    payload = {"doctor_id": doctor, "kind": "ics", "url": url, **extra}
    return str(run("link_calendar", payload)["link_id"])


def sync(doctor: str, link_id: str) -> dict[str, Any]:
    return run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})


def updated_at(link_id: str) -> datetime:
    with UnitOfWork() as uow:
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None
        return row.updated_at


def test_unchanged_resync_costs_one_conditional_request_and_writes_nothing(
    feed_server: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"ics-{uid}")
    feed_server.routes[f"/{uid}.ics"] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(f"/{uid}.ics"))
    first = sync(doctor, link_id)
    assert first["fetched"] == "changed"
    assert first["changes"] == {"inserted": 5, "updated": 0, "deleted": 0}
    rows, stamp_after_first = busy(link_id), updated_at(link_id)
    assert len(rows) == 5

    before = feed_server.hits[f"/{uid}.ics"]
    second = sync(doctor, link_id)
    assert feed_server.hits[f"/{uid}.ics"] - before == 1  # reported: unchanged re-sync = 1
    assert feed_server.conditional_hits[f"/{uid}.ics"] == 1
    assert second["fetched"] == "not_modified"
    assert second["changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert "schedule_version" not in second
    assert busy(link_id) == rows
    assert updated_at(link_id) == stamp_after_first


def test_same_bytes_without_etag_are_recognised_by_hash(feed_server: FeedServer, uid: str) -> None:
    doctor = make_doctor(f"hash-{uid}")
    feed_server.routes[f"/{uid}.ics"] = Route(feed_body(uid), etag=False)
    link_id = link(doctor, feed_server.url(f"/{uid}.ics"))
    sync(doctor, link_id)
    again = sync(doctor, link_id)
    assert again["fetched"] == "unchanged"
    assert again["changes"] == {"inserted": 0, "updated": 0, "deleted": 0}


def test_changed_feed_moves_and_deletes_and_bumps_the_schedule_version(
    feed_server: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"chg-{uid}")
    path = f"/{uid}.ics"
    feed_server.routes[path] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(path))
    first = sync(doctor, link_id)
    feed_server.routes[path] = Route(feed_body(uid, moved=True, with_lunch=False))
    before = feed_server.hits[path]
    applied = run_applied("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    changed = applied.result
    assert feed_server.hits[path] - before == 1
    assert changed["changes"] == {"inserted": 0, "updated": 1, "deleted": 1}
    # What metrics count (typed), and the stored result's keys that producers read.
    assert applied.events == CalendarEvents(imported=1, deleted=1)
    assert changed["events_synced"] == {"import": 1, "delete": 1}
    assert changed["schedule_version"] == first["schedule_version"] + 1
    uids = {u for u, _, _, _ in busy(link_id)}
    assert f"lunch-{uid}" not in uids
    single = next(r for r in busy(link_id) if r[0] == f"single-{uid}")
    assert single[1] == ""
    assert single[2] == datetime.combine(next_monday(), time(14), BERLIN)
    monday = next_monday()
    day = (
        datetime.combine(monday, time(0), BERLIN),
        datetime.combine(monday, time(23), BERLIN),
    )
    with UnitOfWork() as uow:
        loaded = load_external_busy(uow, doctor, *day)
    assert [(s.astimezone(BERLIN).hour, e.astimezone(BERLIN).hour) for s, e in loaded] == [
        (10, 11),
        (14, 15),
    ]


def test_busy_time_over_a_booked_appointment_is_a_conflict_and_the_booking_stays(
    feed_server: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"cf-{uid}")
    appt = add_appointment(doctor, datetime.combine(next_monday(), time(10, 30), BERLIN))
    feed_server.routes[f"/{uid}.ics"] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(f"/{uid}.ics"))
    applied = run_applied("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert applied.conflicts == Conflicts(1, "report")
    outcome = applied.result
    assert (outcome["conflict_count"], outcome["strategy"]) == (1, "report")
    assert outcome["conflicts"][0]["appointment_id"] == str(appt)
    assert outcome["conflicts"][0]["uid"] == f"weekly-{uid}"
    # The next sync finds the feed unchanged: the standing conflict is listed, not counted again.
    again = run_applied("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert again.result["fetched"] == "not_modified"  # the feed answers If-None-Match with 304
    assert again.result["conflict_count"] == 1 and again.conflicts is None
    with UnitOfWork() as uow:
        booked = uow.session.get(Appointment, appt)
        assert booked is not None and booked.status == "booked"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<html>Please log in</html>", "ICS_NOT_A_CALENDAR"),
        (ics(vevent("", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z")),
         "ICS_EVENT_WITHOUT_UID"),
        (ics("BEGIN:VEVENT\nUID:x\nDTSTART:2026-12-01\nEND:VEVENT"), "ICS_MALFORMED"),
        (b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 70_000 + b"\r\nEND:VCALENDAR\r\n",
         "CALENDAR_RESPONSE_TOO_LARGE"),
    ],
)  # fmt: skip
def test_bad_feed_applies_nothing_and_names_the_problem(
    feed_server: FeedServer, uid: str, body: bytes, code: str
) -> None:
    doctor = make_doctor(f"bad-{uid}")
    path = f"/{uid}.ics"
    feed_server.routes[path] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(path))
    sync(doctor, link_id)
    good = busy(link_id)
    feed_server.routes[path] = Route(body)
    with pytest.raises(SchedqError) as caught:
        sync(doctor, link_id)
    assert caught.value.code == code
    assert not caught.value.retryable
    assert busy(link_id) == good


@pytest.mark.parametrize(
    ("route", "code", "category", "retryable", "retry_after"),
    [
        (Route(status=500), "CALENDAR_PROVIDER_ERROR", Category.EXTERNAL_SERVICE, True, None),
        (Route(status=429, headers={"Retry-After": "7"}), "CALENDAR_RATE_LIMITED",
         Category.EXTERNAL_SERVICE, True, 7.0),
        (Route(status=503, headers={"Retry-After": "3"}), "CALENDAR_PROVIDER_ERROR",
         Category.EXTERNAL_SERVICE, True, 3.0),
        (Route(body=b"BEGIN:VCALENDAR", delay=2.5), "CALENDAR_TIMEOUT", Category.TIMEOUT, True,
         None),
        (Route(status=401), "CALENDAR_AUTH_REFUSED", Category.AUTHENTICATION, False, None),
        (Route(status=403), "CALENDAR_FORBIDDEN", Category.AUTHORIZATION, False, None),
        (Route(status=404), "CALENDAR_NOT_FOUND", Category.EXTERNAL_SERVICE, False, None),
    ],
)  # fmt: skip
def test_provider_faults_map_to_the_error_model(
    fresh_feed: FeedServer,
    uid: str,
    route: Route,
    code: str,
    category: Category,
    retryable: bool,
    retry_after: float | None,
) -> None:
    doctor = make_doctor(f"flt-{uid}")
    fresh_feed.routes["/f.ics"] = route
    link_id = link(doctor, fresh_feed.url("/f.ics"))
    with pytest.raises(SchedqError) as caught:
        sync(doctor, link_id)
    err = caught.value
    assert (err.code, err.category, err.retryable, err.retry_after) == (
        code,
        category,
        retryable,
        retry_after,
    )
    assert "127.0.0.1" not in err.message
    if category in (Category.AUTHENTICATION, Category.AUTHORIZATION):
        assert "an operator must" in err.message


def test_connection_refused_is_a_retryable_network_error(uid: str) -> None:
    closed = FeedServer()
    url = closed.url("/gone.ics")
    closed.close()
    doctor = make_doctor(f"net-{uid}")
    with pytest.raises(SchedqError) as caught:
        sync(doctor, link(doctor, url))
    assert (caught.value.category, caught.value.retryable) == (Category.NETWORK, True)


def test_secret_comes_from_a_registered_credential_and_is_stored_encrypted(
    feed_server: FeedServer, uid: str
) -> None:
    secret = f"s3cret-{uid}"
    expected = "Basic " + base64.b64encode(f"doc:{secret}".encode()).decode()
    feed_server.routes[f"/{uid}.ics"] = Route(feed_body(uid), auth=expected)
    doctor = make_doctor(f"sec-{uid}")
    add_credential(f"FEED_{uid}", doctor, feed_server.url("/"), secret, username="doc")
    link_id = link(doctor, feed_server.url(f"/{uid}.ics"), username="doc", secret_ref=f"FEED_{uid}")
    assert sync(doctor, link_id)["changes"]["inserted"] == 5
    with UnitOfWork() as uow:
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None and row.secret_ref == f"FEED_{uid}"
        cred = uow.session.get(CalendarCredential, f"FEED_{uid}")
        assert cred is not None
        stored = [str(vars(row)), str(vars(cred))] + [
            str(a.after)
            for a in uow.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == link_id))
        ]
    assert all(secret not in text for text in stored)


def test_unlink_removes_the_link_and_its_busy_time(feed_server: FeedServer, uid: str) -> None:
    doctor = make_doctor(f"ul-{uid}")
    feed_server.routes[f"/{uid}.ics"] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(f"/{uid}.ics"))
    sync(doctor, link_id)
    assert run("unlink_calendar", {"doctor_id": doctor, "link_id": link_id})["deleted"]
    assert busy(link_id) == []
    with UnitOfWork() as uow:
        assert load_external_busy(uow, doctor, datetime.min.replace(tzinfo=UTC),
                                  datetime.max.replace(tzinfo=UTC)) == []  # fmt: skip


def test_private_feed_token_is_substituted_from_a_registered_credential(
    feed_server: FeedServer, uid: str
) -> None:
    token = f"tok{uid}"
    feed_server.routes[f"/private/{token}/basic.ics"] = Route(feed_body(uid))
    doctor = make_doctor(f"tok-{uid}")
    url = feed_server.url("/private/{secret}/basic.ics")
    with pytest.raises(SchedqError) as caught:  # nobody registered it
        link(doctor, url, secret_ref=f"TOKEN_{uid}")
    assert caught.value.code == "CALENDAR_CREDENTIAL_MISSING"
    assert not caught.value.retryable
    add_credential(f"TOKEN_{uid}", doctor, url, token)
    link_id = link(doctor, url, secret_ref=f"TOKEN_{uid}")
    assert sync(doctor, link_id)["changes"]["inserted"] == 5
    with UnitOfWork() as uow:
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None and token not in row.url


def test_an_unchanged_feed_is_expanded_again_when_the_horizon_moved(
    feed_server: FeedServer, uid: str
) -> None:
    doctor = make_doctor(f"hz-{uid}")
    path = f"/{uid}.ics"
    feed_server.routes[path] = Route(feed_body(uid))
    link_id = link(doctor, feed_server.url(path))
    sync(doctor, link_id)
    with UnitOfWork() as uow:  # as if the last expansion happened two days ago
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None and row.expanded_until is not None
        row.expanded_until = row.expanded_until - timedelta(days=2)
        uow.commit()
    conditional_before = feed_server.conditional_hits[path]
    again = sync(doctor, link_id)
    assert again["fetched"] == "reexpanded"
    assert feed_server.conditional_hits[path] == conditional_before  # an unconditional GET
    assert again["changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert sync(doctor, link_id)["fetched"] == "not_modified"
