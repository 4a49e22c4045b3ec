"""iCalendar -> busy instances, on fixed windows (pure functions, no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.domain.ical_busy import busy_instances, conflicts, parse_calendar
from shared.errors import SchedqError
from tests.calendar_support import ics, vevent

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DEC = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def expand(raw: bytes, zone: ZoneInfo = BERLIN, window: tuple[datetime, datetime] = DEC) -> list:
    return [
        (b.uid, b.recurrence_id, b.starts_at, b.ends_at)
        for b in busy_instances(parse_calendar(raw), zone, *window)
    ]


WEEKLY = ics(
    vevent(
        "weekly",
        "DTSTART;TZID=Europe/Berlin:20261207T100000",
        "DTEND;TZID=Europe/Berlin:20261207T110000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Berlin:20261214T100000",
    ),
    vevent(
        "weekly",
        "DTSTART;TZID=Europe/Berlin:20261222T150000",
        "DTEND;TZID=Europe/Berlin:20261222T160000",
        "RECURRENCE-ID;TZID=Europe/Berlin:20261221T100000",
    ),
)


def test_weekly_meeting_with_one_moved_instance_and_one_exdate() -> None:
    assert expand(WEEKLY) == [
        ("weekly", "20261207T090000Z", utc(2026, 12, 7, 9), utc(2026, 12, 7, 10)),
        # Moved from Monday 21st to Tuesday 22nd, still keyed by its original start.
        ("weekly", "20261221T090000Z", utc(2026, 12, 22, 14), utc(2026, 12, 22, 15)),
        ("weekly", "20261228T090000Z", utc(2026, 12, 28, 9), utc(2026, 12, 28, 10)),
    ]


def test_weekly_series_keeps_local_time_across_dst_and_event_crossing_the_gap() -> None:
    raw = ics(
        vevent(
            "standup",
            "DTSTART;TZID=America/New_York:20270307T090000",
            "DTEND;TZID=America/New_York:20270307T093000",
            "RRULE:FREQ=WEEKLY;COUNT=2",
        ),
        # 01:30 EST to 03:30 EDT on the spring-forward night: one real hour.
        vevent(
            "night",
            "DTSTART;TZID=America/New_York:20270314T013000",
            "DTEND;TZID=America/New_York:20270314T033000",
        ),
    )
    got = expand(raw, NEW_YORK, (utc(2027, 3, 1), utc(2027, 4, 1)))
    assert got == [
        ("standup", "20270307T140000Z", utc(2027, 3, 7, 14), utc(2027, 3, 7, 14, 30)),
        ("night", "", utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 30)),
        ("standup", "20270314T130000Z", utc(2027, 3, 14, 13), utc(2027, 3, 14, 13, 30)),
    ]


def test_all_day_event_is_the_doctors_local_day_and_floating_time_is_local() -> None:
    raw = ics(
        vevent("allday", "DTSTART;VALUE=DATE:20261210", "DTEND;VALUE=DATE:20261211"),
        vevent("float", "DTSTART:20261211T090000", "DURATION:PT30M"),
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    assert expand(raw, tokyo) == [
        ("allday", "", utc(2026, 12, 9, 15), utc(2026, 12, 10, 15)),
        ("float", "", utc(2026, 12, 11, 0), utc(2026, 12, 11, 0, 30)),
    ]
    assert expand(raw, BERLIN)[0][2:] == (utc(2026, 12, 9, 23), utc(2026, 12, 10, 23))


def test_transparent_cancelled_and_rdate() -> None:
    raw = ics(
        vevent(
            "series",
            "DTSTART:20261201T080000Z",
            "DTEND:20261201T090000Z",
            "RRULE:FREQ=DAILY;COUNT=2",
            "RDATE:20261210T080000Z",
        ),
        vevent(
            "series",
            "DTSTART:20261202T080000Z",
            "DTEND:20261202T090000Z",
            "RECURRENCE-ID:20261202T080000Z",
            "STATUS:CANCELLED",
        ),
        vevent("free", "DTSTART:20261203T080000Z", "DTEND:20261203T090000Z", "TRANSP:TRANSPARENT"),
        vevent("gone", "DTSTART:20261204T080000Z", "DTEND:20261204T090000Z", "STATUS:CANCELLED"),
    )
    assert [(u, r) for u, r, _, _ in expand(raw)] == [
        ("series", "20261201T080000Z"),
        ("series", "20261210T080000Z"),
    ]


@pytest.mark.parametrize(
    ("raw", "code", "where"),
    [
        (b"<html><body>Login</body></html>", "ICS_NOT_A_CALENDAR", None),
        (b"", "ICS_NOT_A_CALENDAR", None),
        (b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", "ICS_NOT_A_CALENDAR", None),
        (ics(vevent("a", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z", "broken line")),
         "ICS_MALFORMED", {"line": 4}),
        (ics(vevent("", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z")),
         "ICS_EVENT_WITHOUT_UID", {"line": 4, "component": "VEVENT", "index": 0}),
        (ics(vevent("a", "DTSTART:2026zz", "DTEND:20261201T090000Z")),
         "ICS_MALFORMED", {"property": "DTSTART"}),
        (ics(vevent("a", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z",
                    "RRULE:FREQ=SOMETIMES")),
         "ICS_MALFORMED", None),
        (b"BEGIN:VCALENDAR\r\nX-NAME:\xff\xfe\r\nEND:VCALENDAR\r\n", "ICS_MALFORMED", {"line": 2}),
        # An unknown TZID is an error, not silently the doctor's local time.
        (ics(vevent("tz", "DTSTART;TZID=Mars/Olympus:20261201T080000",
                    "DTEND;TZID=Mars/Olympus:20261201T090000")),
         "ICS_MALFORMED", {"line": 4, "component": "VEVENT", "property": "DTSTART",
                           "tzid": "Mars/Olympus"}),
        (ics(vevent("tz2", "DTSTART:20261201T080000Z", "DTEND;TZID=Nowhere:20261201T090000")),
         "ICS_MALFORMED", {"property": "DTEND", "index": 0}),
        (ics(vevent("s", "DTSTART:20261101T000000Z", "DTEND:20261101T000001Z",
                    "RRULE:FREQ=SECONDLY")),
         "ICS_TOO_MANY_INSTANCES", {"component": "VEVENT", "index": 0, "uid": "s"}),
        (ics(vevent("d", "DTSTART:20261101T000000Z", "DTEND:20261101T000001Z",
                    "RRULE:FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=0,30")),
         "ICS_TOO_MANY_INSTANCES", {"limit": 1000}),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_code_naming_the_problem(
    raw: bytes, code: str, where: dict[str, object] | None
) -> None:
    with pytest.raises(SchedqError) as caught:
        busy_instances(parse_calendar(raw), BERLIN, *DEC)
    err = caught.value
    assert err.code == code
    assert not err.retryable
    for key, value in (where or {}).items():
        assert err.details[key] == value, err.details
    if "line" in (where or {}):
        assert f"line {where['line']}" in err.message  # type: ignore[index]


def test_a_zone_defined_by_the_feed_itself_is_valid() -> None:
    vtimezone = "\n".join([
        "BEGIN:VTIMEZONE", "TZID:Custom/Zone", "BEGIN:STANDARD", "DTSTART:19700101T000000",
        "TZOFFSETFROM:+0300", "TZOFFSETTO:+0300", "END:STANDARD", "END:VTIMEZONE",
    ])  # fmt: skip
    raw = ics(vtimezone, vevent("c", "DTSTART;TZID=Custom/Zone:20261201T100000",
                                "DTEND;TZID=Custom/Zone:20261201T110000"))  # fmt: skip
    assert expand(raw) == [("c", "", utc(2026, 12, 1, 7), utc(2026, 12, 1, 8))]


def test_a_long_running_daily_series_is_not_mistaken_for_a_bomb() -> None:
    raw = ics(vevent("since-1995", "DTSTART:19950102T080000Z", "DTEND:19950102T090000Z",
                     "RRULE:FREQ=DAILY"))  # fmt: skip
    assert len(expand(raw)) == 31


def test_conflicts_are_half_open_overlaps() -> None:
    found = busy_instances(parse_calendar(WEEKLY), BERLIN, *DEC)
    appts = [
        ("touching", utc(2026, 12, 7, 10), utc(2026, 12, 7, 10, 30)),  # starts as busy ends
        ("inside", utc(2026, 12, 22, 14, 15), utc(2026, 12, 22, 14, 45)),
    ]
    assert [c["appointment_id"] for c in conflicts(found, appts)] == ["inside"]


def _through_the_library(raw: bytes, zone: ZoneInfo, window: tuple[datetime, datetime]) -> list:
    """The oracle: every event, single or not, expanded by recurring-ical-events alone (what
    busy_instances did before single events skipped the library)."""
    import recurring_ical_events

    from shared.domain.ical_busy import _end, _instant

    found = set()
    for occ in recurring_ical_events.of(parse_calendar(raw)).between(*window):
        if str(occ.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(occ.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        start = _instant(occ["DTSTART"].dt, zone)
        end = _instant(_end(occ, occ["DTSTART"].dt), zone)
        if end > start:
            found.add((str(occ["UID"]), start, end))
    return sorted(found, key=lambda v: (v[1], v[0]))


MIXED = ics(
    vevent("utc", "DTSTART:20261203T090000Z", "DTEND:20261203T093000Z"),
    vevent("tzid", "DTSTART;TZID=America/New_York:20261204T090000", "DURATION:PT45M"),
    vevent("floating", "DTSTART:20261205T080000", "DTEND:20261205T081500"),
    vevent("all-day", "DTSTART;VALUE=DATE:20261206", "SUMMARY:day off"),
    vevent("no-end", "DTSTART:20261207T120000Z", "SUMMARY:a point in time"),
    vevent("free", "DTSTART:20261208T090000Z", "DTEND:20261208T100000Z", "TRANSP:TRANSPARENT"),
    vevent("off", "DTSTART:20261209T090000Z", "DTEND:20261209T100000Z", "STATUS:CANCELLED"),
    vevent("before", "DTSTART:20261120T090000Z", "DTEND:20261120T100000Z"),
    vevent("straddles", "DTSTART:20261130T230000Z", "DTEND:20261201T010000Z"),
    vevent("after", "DTSTART:20270105T090000Z", "DTEND:20270105T100000Z"),
    vevent("ends-at-start", "DTSTART:20261130T220000Z", "DTEND:20261201T000000Z"),
    vevent("daily", "DTSTART:20261228T070000Z", "DTEND:20261228T080000Z", "RRULE:FREQ=DAILY"),
)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_single_events_outside_the_library_match_what_the_library_gives(zone: ZoneInfo) -> None:
    ours = [(uid, start, end) for uid, _, start, end in expand(MIXED, zone)]
    assert ours == _through_the_library(MIXED, zone, DEC)
    uids = {uid for uid, _, _ in ours}
    assert {"utc", "tzid", "floating", "all-day", "straddles", "daily"} <= uids
    assert uids.isdisjoint({"no-end", "free", "off", "before", "after", "ends-at-start"})
