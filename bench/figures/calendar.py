"""Figure 5, calendar import: a generated ICS feed of N events (10,000 at full size).

Measured here: icalendar's bare parse (``Calendar.from_ical``) against parse plus recurrence
expansion with recurring-ical-events over a one-year horizon, reduced to the busy-time keys an
import stores ((UID, RECURRENCE-ID) -> start, end). That is the library floor of an import.

HOOK (not measured on this branch): schedq's own import (ICS feed over HTTP -> busy-time rows)
is being built on another branch. Wire it in ``schedq_import`` below: serve ``feed`` from
127.0.0.1, run the import job for it and wait for it to finish; return the seconds. Then the
figure adds "schedq first sync vs bare parse" (target <= 2x) and "unchanged re-sync vs first
sync" (target <= 5%), both from the same generated feed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import icalendar
import recurring_ical_events

from bench.context import Context
from bench.report import Figure, Row

HORIZON = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def feed(events: int) -> bytes:
    """Nine single events in ten; the tenth recurs weekly 20 times with one EXDATE, and every
    fiftieth recurring one has a moved occurrence (a RECURRENCE-ID override)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//schedq bench//EN"]
    base = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
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


def schedq_import(data: bytes) -> float | None:
    """HOOK: seconds for schedq's import of ``data``; None until the import lands here."""
    return None


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
    if schedq_import(data) is None:
        fig.notes.append(
            "schedq's own import and the unchanged re-sync are NOT measured: the import is on "
            "another branch (hook: bench/figures/calendar.py schedq_import). The row above is "
            "the library floor every import pays before writing busy time."
        )
    fig.raw = {"bytes": len(data), "occurrences": occurrences, "bare": bare, "expand": full}
    return fig
