"""iCalendar bytes -> a checked icalendar.Calendar (pure: no I/O).

A problem anywhere makes the whole calendar fail with one error naming it (line or component),
so an import applies all of a feed or nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import icalendar

from shared.errors import SchedqError, error


def malformed(problem: str, **details: Any) -> SchedqError:
    # Not retryable: the same bytes fail the same way; the next scheduled sync tries again.
    return error("ICS_MALFORMED", problem=problem, details=details)


def _line_of(text: str, snippet: str) -> int | None:
    snippet = snippet.strip()[:60]
    if not snippet:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if snippet in line:
            return number
    return None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise malformed(f"The calendar is not UTF-8 text (line {line}).", line=line) from None


_QUOTED = re.compile(r"'([^']*)'")


def parse_calendar(raw: bytes) -> icalendar.Calendar:
    text = _decode(raw)
    head = text.lstrip()[:15].upper()
    if head != "BEGIN:VCALENDAR":
        raise error("ICS_NOT_A_CALENDAR")
    # icalendar keeps every VTIMEZONE it reads in a process-wide cache by TZID, first one wins:
    # a feed defining "Custom/Zone" would decide how a later feed (another doctor's) with its
    # own "Custom/Zone" is read. Choosing the provider again starts that cache empty. A worker
    # child parses one feed at a time, and the times are bound to the events by the parse.
    icalendar.use_zoneinfo()
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        quoted = _QUOTED.search(str(exc))
        line = _line_of(text, quoted.group(1)) if quoted else None
        where = f" (line {line})" if line else ""
        raise malformed(f"The calendar could not be parsed{where}.", line=line) from None
    if not isinstance(cal, icalendar.Calendar):
        raise error("ICS_NOT_A_CALENDAR")
    _check_components(cal, text)
    return cal


def _check_components(cal: icalendar.Calendar, text: str) -> None:
    begins = [n for n, line in enumerate(text.splitlines(), 1) if line.upper() == "BEGIN:VEVENT"]
    for index, event in enumerate(cal.walk("VEVENT")):
        line = begins[index] if index < len(begins) else None
        where = {"component": "VEVENT", "index": index, "line": line}
        if event.errors:
            prop, _ = event.errors[0]
            name = prop or "a content line"
            raise malformed(
                f"VEVENT #{index + 1} (line {line}) has an invalid {name}.",
                property=prop,
                **where,
            )
        if not str(event.get("UID", "")).strip():
            raise error(
                "ICS_EVENT_WITHOUT_UID", where=f"VEVENT #{index + 1} (line {line})", details=where
            )
        if event.get("DTSTART") is None:
            raise malformed(f"VEVENT #{index + 1} (line {line}) has no DTSTART.", **where)
        _check_zones(event, index, line, where)


_ZONED = ("DTSTART", "DTEND", "RECURRENCE-ID")


def _check_zones(event: Any, index: int, line: int | None, where: dict[str, Any]) -> None:
    """A TZID nobody defines (not in the IANA database, no VTIMEZONE) is an error.

    icalendar leaves such a time naive, which would silently read it as the doctor's local
    time: an event could move by hours without anyone noticing.
    """
    for name in _ZONED:
        prop = event.get(name)
        if prop is None or not hasattr(prop, "params"):
            continue
        tzid = prop.params.get("TZID")
        value = getattr(prop, "dt", None)
        if tzid and isinstance(value, datetime) and value.tzinfo is None:
            raise malformed(
                f"VEVENT #{index + 1} (line {line}) has an unknown TZID in {name}.",
                property=name,
                tzid=str(tzid)[:64],
                **where,
            )
