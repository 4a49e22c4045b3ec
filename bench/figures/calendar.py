"""Figure 5, calendar import: a generated ICS feed of N events (10,000 at full size).

Measured here: icalendar's bare parse (``Calendar.from_ical``) against parse plus recurrence
expansion with recurring-ical-events over a one-year horizon, reduced to the busy-time keys an
import stores ((UID, RECURRENCE-ID) -> start, end). That is the library floor of an import.

Also measured: schedq's own import of the same feed (``bench.figures.calendar_import``: HTTP
with ETag from 127.0.0.1, parse, expand, write busy-time rows) against the bare parse (target
<= 2x), an unchanged re-sync against the first sync (target <= 5%), and a re-sync of the feed
changed as servers change it (one event moved, DTSTAMP renewed), which reuses the expansion of
every unchanged series (``expanded_series``), against the first sync and the bare parse.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import icalendar
import recurring_ical_events

from bench.context import Context
from bench.figures.calendar_import import time_import
from bench.report import Figure, Row

# Events start next week, so schedq's import (whose horizon starts today) keeps all of them.
BASE = (datetime.now(UTC) + timedelta(days=7)).replace(hour=7, minute=0, second=0, microsecond=0)
HORIZON_DAYS = 400
HORIZON = (BASE - timedelta(days=1), BASE + timedelta(days=HORIZON_DAYS - 8))


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def feed(events: int) -> bytes:
    """Nine single events in ten; the tenth recurs weekly 20 times with one EXDATE, and every
    fiftieth recurring one has a moved occurrence (a RECURRENCE-ID override)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//schedq bench//EN"]
    base = BASE
    for i in range(events):
        start = base + timedelta(days=(i * 7) % 360, minutes=30 * (i % 20))
        end = start + timedelta(minutes=25)
        uid = f"ev-{i}@bench.schedq"
        lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_stamp(base)}"]
        lines += [f"DTSTART:{_stamp(start)}", f"DTEND:{_stamp(end)}", "SUMMARY:Busy"]
        if i % 10 == 9:
            lines += ["RRULE:FREQ=WEEKLY;COUNT=20", f"EXDATE:{_stamp(start + timedelta(weeks=3))}"]
        lines.append("END:VEVENT")
        if i % 500 == 499:
            moved = start + timedelta(weeks=5)
            lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_stamp(base)}"]
            lines += [
                f"RECURRENCE-ID:{_stamp(moved)}",
                f"DTSTART:{_stamp(moved + timedelta(hours=1))}",
            ]
            lines += [f"DTEND:{_stamp(moved + timedelta(hours=1, minutes=25))}", "SUMMARY:Moved"]
            lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def bare_parse(data: bytes) -> float:
    t0 = time.perf_counter()
    icalendar.Calendar.from_ical(data)
    return time.perf_counter() - t0


def parse_and_expand(data: bytes) -> tuple[float, int]:
    t0 = time.perf_counter()
    cal = icalendar.Calendar.from_ical(data)
    busy = {}
    for occ in recurring_ical_events.of(cal).between(*HORIZON):
        rid = occ.get("RECURRENCE-ID")
        key = (str(occ["UID"]), rid.to_ical() if rid else occ["DTSTART"].to_ical())
        busy[key] = (occ["DTSTART"].dt, occ["DTEND"].dt)
    return time.perf_counter() - t0, len(busy)


def run(ctx: Context) -> Figure:
    fig = Figure("calendar", ctx.command("calendar"))
    data = feed(ctx.size.ics_events)
    bare: list[float] = []
    full: list[float] = []
    occurrences = 0
    for i in range(ctx.runs):
        bare.append(bare_parse(data))
        seconds, occurrences = parse_and_expand(data)
        full.append(seconds)
        print(f"  calendar run {i + 1}: parse {bare[-1]:.2f}s, parse+expand {seconds:.2f}s")
    fig.rows.append(
        Row.compare(
            f"{ctx.size.ics_events:,}-event ICS: parse + expand ({occurrences:,} busy ranges)",
            "s",
            full,
            "icalendar bare parse",
            bare,
            ("<=", 2.0),
        )
    )
    imports = [time_import(data, HORIZON_DAYS) for _ in range(ctx.runs)]
    print(
        f"  schedq import: first {[round(i.first, 2) for i in imports]}s, "
        f"re-sync {[round(i.resync, 3) for i in imports]}s, "
        f"changed re-sync {[round(i.changed, 2) for i in imports]}s"
    )
    fig.rows.append(
        Row.compare(
            f"schedq first sync of the feed ({imports[0].rows:,} busy rows written)",
            "s",
            [i.first for i in imports],
            "icalendar bare parse",
            bare,
            ("<=", 2.0),
        )
    )
    fig.rows.append(
        Row.compare(
            f"unchanged re-sync ({imports[0].resync_requests} request, 304)",
            "s",
            [i.resync for i in imports],
            "schedq first sync",
            [i.first for i in imports],
            ("<=", 0.05),
        )
    )
    reused = imports[0].reused
    fig.rows.append(
        Row.compare(
            f"re-sync of the feed changed (one event moved, every DTSTAMP renewed; {reused:,} "
            f"series reused, {imports[0].expanded} expanded)",
            "s",
            [i.changed for i in imports],
            "schedq first sync",
            [i.first for i in imports],
            None,
        )
    )
    fig.rows.append(
        Row.compare(
            "same, against the parse it cannot skip",
            "s",
            [i.changed for i in imports],
            "icalendar bare parse",
            bare,
            None,
        )
    )
    fig.raw = {"bytes": len(data), "occurrences": occurrences, "bare": bare, "expand": full}
    return fig
