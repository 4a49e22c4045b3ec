"""Series expansions kept across syncs: what the digest covers, and that a reused expansion
gives exactly what a fresh one gives (pure functions, no servers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.domain.ical_busy import Limits, expand_calendar, parse_calendar
from shared.domain.ical_series import BusyInstance, Expansion, SeriesExpansion
from shared.errors import SchedqError
from tests.calendar_support import ics, vevent

BERLIN = ZoneInfo("Europe/Berlin")
DEC = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))

WEEKLY = vevent(
    "weekly",
    "DTSTART;TZID=Europe/Berlin:20261207T100000",
    "DTEND;TZID=Europe/Berlin:20261207T110000",
    "RRULE:FREQ=WEEKLY;COUNT=4",
    "EXDATE;TZID=Europe/Berlin:20261214T100000",
)
MOVED = vevent(
    "weekly",
    "DTSTART;TZID=Europe/Berlin:20261222T150000",
    "DTEND;TZID=Europe/Berlin:20261222T160000",
    "RECURRENCE-ID;TZID=Europe/Berlin:20261221T100000",
)
CANCELLED = vevent(
    "daily",
    "DTSTART;TZID=Europe/Berlin:20261201T080000",
    "DTEND;TZID=Europe/Berlin:20261201T083000",
    "RRULE:FREQ=DAILY;COUNT=5",
)
CANCELLED_ONE = vevent(
    "daily",
    "DTSTART;TZID=Europe/Berlin:20261202T080000",
    "DTEND;TZID=Europe/Berlin:20261202T083000",
    "RECURRENCE-ID;TZID=Europe/Berlin:20261202T080000",
    "STATUS:CANCELLED",
)
SINGLE = vevent(
    "single",
    "DTSTART;TZID=Europe/Berlin:20261203T120000",
    "DTEND;TZID=Europe/Berlin:20261203T130000",
)
FEED = ics(WEEKLY, MOVED, CANCELLED, CANCELLED_ONE, SINGLE)


DEFAULT_LIMITS = Limits()


def run(
    raw: bytes,
    known: dict[str, SeriesExpansion] | None = None,
    zone: ZoneInfo = BERLIN,
    window: tuple[datetime, datetime] = DEC,
    limits: Limits = DEFAULT_LIMITS,
) -> Expansion:
    return expand_calendar(parse_calendar(raw), zone, *window, limits, known=known)


def test_reusing_every_series_gives_what_expanding_them_gives() -> None:
    first = run(FEED)
    assert first.fresh == {"weekly", "daily"} and first.reused == frozenset()
    again = run(FEED, dict(first.series))
    assert again.reused == {"weekly", "daily"} and again.fresh == frozenset()
    assert again.busy() == first.busy()
    # The cancelled instance is not busy but is counted: the cap sees 5 occurrences.
    assert first.series["daily"].occurrences == 5
    assert len(first.series["daily"].instances) == 4


def test_a_reused_series_is_not_expanded_again() -> None:
    first = run(FEED)
    planted = BusyInstance(
        "weekly", "20261207T090000Z", datetime(2026, 12, 7, 9, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 45, tzinfo=UTC),
    )  # fmt: skip
    known = dict(first.series)
    known["weekly"] = replace(known["weekly"], instances=(planted,))
    again = run(FEED, known)
    assert [b for b in again.busy() if b.uid == "weekly"] == [planted]


def test_dtstamp_and_component_order_do_not_change_a_digest() -> None:
    first = run(FEED)
    restamped = FEED.replace(b"DTSTAMP:20261101T000000Z", b"DTSTAMP:20261130T101010Z")
    reordered = ics(MOVED, SINGLE, CANCELLED_ONE, WEEKLY, CANCELLED)
    for raw in (restamped, reordered):
        assert run(raw, dict(first.series)).reused == {"weekly", "daily"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda raw: raw.replace(b"COUNT=4", b"COUNT=3"), id="rule"),
        pytest.param(lambda raw: raw.replace(b"T150000", b"T160000"), id="override"),
        pytest.param(lambda raw: raw.replace(b"EXDATE", b"X-OLD-EXDATE"), id="exdate"),
    ],
)
def test_a_change_to_one_series_expands_only_that_series(change) -> None:  # type: ignore[no-untyped-def]
    first = run(FEED)
    changed = change(FEED)
    again = run(changed, dict(first.series))
    assert again.fresh == {"weekly"} and again.reused == {"daily"}
    assert again.busy() == run(changed).busy()
    assert again.busy() != first.busy()


def test_the_zone_the_limits_and_a_vtimezone_are_part_of_every_digest() -> None:
    first = run(FEED)
    known = dict(first.series)
    assert run(FEED, known, zone=ZoneInfo("America/New_York")).reused == frozenset()
    assert run(FEED, known, limits=Limits(per_series=999)).reused == frozenset()
    with_zone = FEED.replace(
        b"BEGIN:VEVENT",
        b"BEGIN:VTIMEZONE\r\nTZID:Custom/DigestOnly\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        b"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        b"BEGIN:VEVENT",
        1,
    )
    assert run(with_zone, known).reused == frozenset()


def test_reused_instances_are_cut_to_the_new_window() -> None:
    first = run(FEED)
    later = (datetime(2026, 12, 20, tzinfo=UTC), DEC[1])
    again = run(FEED, dict(first.series), window=later)
    assert again.reused == {"weekly", "daily"}
    assert again.busy() == run(FEED, window=later).busy()
    assert all(b.ends_at > later[0] for b in again.busy())


def test_reused_occurrences_count_towards_the_calendars_cap() -> None:
    first = run(FEED)
    known = dict(first.series)
    known["daily"] = replace(known["daily"], occurrences=50)
    with pytest.raises(SchedqError) as caught:
        run(FEED, known, limits=Limits(total=20))
    assert caught.value.code == "ICS_TOO_MANY_INSTANCES"
    # Without the planted count the same calendar is within the cap.
    assert run(FEED, dict(first.series), limits=Limits(total=20)).reused == {"weekly", "daily"}
