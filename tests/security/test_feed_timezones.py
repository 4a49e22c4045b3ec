"""A feed cannot decide how another feed's times are read by defining a time zone first."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from shared.domain.ical_busy import busy_instances, parse_calendar
from tests.calendar_support import ics, vevent

WINDOW = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def feed(offset: str) -> bytes:
    zone = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Clinic Standard Time", "BEGIN:STANDARD",
        "DTSTART:19700101T000000", f"TZOFFSETFROM:{offset}", f"TZOFFSETTO:{offset}",
        "END:STANDARD", "END:VTIMEZONE",
    ])  # fmt: skip
    return ics(zone, vevent("visit", "DTSTART;TZID=Clinic Standard Time:20261201T100000",
                            "DTEND;TZID=Clinic Standard Time:20261201T110000"))  # fmt: skip


def starts(raw: bytes) -> datetime:
    return busy_instances(parse_calendar(raw), ZoneInfo("UTC"), *WINDOW)[0].starts_at


def test_a_zone_defined_by_an_earlier_feed_does_not_shift_a_later_feeds_events() -> None:
    # Same TZID, different definitions: each feed is read by its own VTIMEZONE.
    assert starts(feed("+0100")) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert starts(feed("+0300")) == datetime(2026, 12, 1, 7, tzinfo=UTC)
    assert starts(feed("+0100")) == datetime(2026, 12, 1, 9, tzinfo=UTC)
