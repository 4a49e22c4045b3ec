"""A changed ICS feed reuses the expansion of every series whose content did not change
(``expanded_series``), against a real feed on 127.0.0.1 and the run's private database."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from shared.db.calendar import CalendarLink, ExpandedSeries
from shared.db.uow import UnitOfWork
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import busy, ics, make_doctor, next_monday, run, stamp, vevent

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def feed(tag: str, *, dtstamp: str = "20261101T000000Z", single_at: str = "0800",
         b_count: int = 3, with_a: bool = True) -> bytes:  # fmt: skip
    monday = next_monday()
    events = [
        vevent(
            f"b-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '1400')}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1500')}",
            f"RRULE:FREQ=DAILY;COUNT={b_count}",
        ),
        vevent(
            f"single-{tag}",
            f"DTSTART;TZID=Europe/Berlin:{stamp(monday, single_at)}",
            f"DTEND;TZID=Europe/Berlin:{stamp(monday, single_at[:2] + '30')}",
        ),
    ]
    if with_a:
        events.insert(
            0,
            vevent(
                f"a-{tag}",
                f"DTSTART;TZID=Europe/Berlin:{stamp(monday, '1000')}",
                f"DTEND;TZID=Europe/Berlin:{stamp(monday, '1100')}",
                "RRULE:FREQ=WEEKLY;COUNT=4",
            ),
        )
    body = ics(*events).decode().replace("DTSTAMP:20261101T000000Z", f"DTSTAMP:{dtstamp}")
    return body.encode()


def cached(link_id: str) -> dict[str, str]:
    with UnitOfWork() as uow:
        rows = uow.session.execute(
            select(ExpandedSeries.uid, ExpandedSeries.digest).where(
                ExpandedSeries.link_id == uuid.UUID(link_id)
            )
        )
        return {uid: digest for uid, digest in rows}


def expanded_until(link_id: str) -> datetime | None:
    with UnitOfWork() as uow:
        row = uow.session.get(CalendarLink, uuid.UUID(link_id))
        assert row is not None
        return row.expanded_until


def link(doctor: str, url: str) -> str:
    return str(run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})["link_id"])


def fresh_link_busy(
    server: FeedServer, tag: str, body: bytes
) -> list[tuple[str, str, datetime, datetime]]:
    """What a link that never synced before imports from ``body``: the uncached answer."""
    doctor = make_doctor(f"ref-{tag}-{uuid.uuid4().hex[:6]}")
    server.routes[f"/ref-{tag}.ics"] = Route(body)
    link_id = link(doctor, server.url(f"/ref-{tag}.ics"))
    run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    return busy(link_id)


def setup(server: FeedServer, uid: str, body: bytes) -> tuple[str, str, str]:
    doctor = make_doctor(f"ser-{uid}")
    path = f"/{uid}.ics"
    server.routes[path] = Route(body)
    return doctor, path, link(doctor, server.url(path))


def sync(doctor: str, link_id: str) -> dict[str, object]:
    return run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})


def test_a_changed_feed_reuses_unchanged_series_and_imports_what_a_fresh_link_would(
    feed_server: FeedServer, uid: str
) -> None:
    doctor, path, link_id = setup(feed_server, uid, feed(uid))
    first = sync(doctor, link_id)
    assert first["series"] == {"expanded": 2, "reused": 0}
    digests, until = cached(link_id), expanded_until(link_id)
    assert set(digests) == {f"a-{uid}", f"b-{uid}"}

    # The single event moves and the server renews every DTSTAMP: both series are unchanged.
    changed = feed(uid, dtstamp="20261130T120000Z", single_at="0900")
    feed_server.routes[path] = Route(changed)
    second = sync(doctor, link_id)
    assert second["fetched"] == "changed"
    assert second["series"] == {"expanded": 0, "reused": 2}
    assert second["changes"] == {"inserted": 0, "updated": 1, "deleted": 0}
    assert cached(link_id) == digests
    assert busy(link_id) == fresh_link_busy(feed_server, uid, changed)
    # Reused series were expanded up to the first sync's window: the horizon counts from there.
    assert expanded_until(link_id) == until


def test_a_changed_series_is_expanded_again_and_a_removed_one_is_forgotten(
    feed_server: FeedServer, uid: str
) -> None:
    doctor, path, link_id = setup(feed_server, uid, feed(uid))
    sync(doctor, link_id)
    digests = cached(link_id)

    longer = feed(uid, b_count=5)
    feed_server.routes[path] = Route(longer)
    result = sync(doctor, link_id)
    assert result["series"] == {"expanded": 1, "reused": 1}
    assert result["changes"] == {"inserted": 2, "updated": 0, "deleted": 0}
    assert cached(link_id)[f"a-{uid}"] == digests[f"a-{uid}"]
    assert cached(link_id)[f"b-{uid}"] != digests[f"b-{uid}"]
    assert busy(link_id) == fresh_link_busy(feed_server, uid, longer)

    without_a = feed(uid, b_count=5, with_a=False)
    feed_server.routes[path] = Route(without_a)
    result = sync(doctor, link_id)
    assert result["series"] == {"expanded": 0, "reused": 1}
    assert result["changes"] == {"inserted": 0, "updated": 0, "deleted": 4}
    assert set(cached(link_id)) == {f"b-{uid}"}
    assert busy(link_id) == fresh_link_busy(feed_server, uid, without_a)


def test_once_the_horizon_moved_on_every_series_is_expanded_again(
    feed_server: FeedServer, uid: str
) -> None:
    doctor, path, link_id = setup(feed_server, uid, feed(uid))
    sync(doctor, link_id)
    old = datetime.now().astimezone() - timedelta(days=3)
    with UnitOfWork() as uow:
        uow.session.execute(
            update(CalendarLink)
            .where(CalendarLink.id == uuid.UUID(link_id))
            .values(expanded_until=old)
        )
        uow.commit()
    feed_server.routes[path] = Route(feed(uid, single_at="0900"))
    result = sync(doctor, link_id)
    assert result["series"] == {"expanded": 2, "reused": 0}
    until = expanded_until(link_id)
    assert until is not None and until > old + timedelta(days=2)


def test_unlinking_deletes_the_kept_series(feed_server: FeedServer, uid: str) -> None:
    doctor, _, link_id = setup(feed_server, uid, feed(uid))
    sync(doctor, link_id)
    assert cached(link_id)
    run("unlink_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert cached(link_id) == {}
