"""iCalendar text -> busy instances (pure: no I/O). icalendar parses, recurring-ical-events expands.

A problem anywhere makes the whole calendar fail with one error naming it (line or component),
so an import applies all of a feed or nothing. Times become UTC instants: floating times and
all-day dates are read on the doctor's local calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from shared.errors import SchedqError, error


@dataclass(frozen=True)
class BusyInstance:
    uid: str
    recurrence_id: str  # '' for a single (non-recurring) event
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Limits:
    """Work one calendar may cause: instances of one series, instances in all (the horizon)."""

    per_series: int = 1000
    total: int = 20_000
    # Instances a rule may produce from its DTSTART to the window's end (those before the
    # window cost expansion work too): a daily event since 1990 passes, FREQ=SECONDLY never.
    work_factor: int = 50

    @property
    def work(self) -> int:
        return self.per_series * self.work_factor


def malformed(problem: str, **details: Any) -> SchedqError:
    # Not retryable: the same bytes fail the same way; the next scheduled sync tries again.
    return error("ICS_MALFORMED", problem=problem, details=details)


def _too_many(problem: str, **details: Any) -> SchedqError:
    return error("ICS_TOO_MANY_INSTANCES", problem=problem, details=details)


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


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=zone)  # floating
        return local.astimezone(UTC)
    return datetime.combine(value, time(), zone).astimezone(UTC)  # all-day: local midnight


def recurrence_key(value: date | datetime, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _instant(value, zone).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _series_uids(cal: icalendar.Calendar) -> set[str]:
    return {
        str(e["UID"])
        for e in cal.walk("VEVENT")
        if any(k in e for k in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }


def _end(event: Any, start: date | datetime) -> date | datetime:
    if event.get("DTEND") is not None:
        return event["DTEND"].dt
    if event.get("DURATION") is not None:
        return start + event["DURATION"].dt
    return start if isinstance(start, datetime) else start + timedelta(days=1)


def _only(cal: icalendar.Calendar, uids: set[str]) -> icalendar.Calendar:
    """A calendar with the VEVENTs of ``uids`` (and every non-event component, e.g. VTIMEZONE)."""
    out = icalendar.Calendar()
    for key, value in cal.property_items(recursive=False)[1:-1]:
        out.add(key, value)
    for sub in cal.subcomponents:
        if sub.name != "VEVENT" or str(sub["UID"]) in uids:
            out.add_component(sub)
    return out


_PERIOD = {
    "SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400,
}  # fmt: skip


def _expansion(part: str, freq: str) -> int:
    """How many instances one value of a BY part can add per period (an upper bound)."""
    if part == "BYDAY":
        return {"YEARLY": 53, "MONTHLY": 5}.get(freq, 1)
    if part == "BYMONTHDAY":
        return 12 if freq == "YEARLY" else 1
    if part == "BYWEEKNO":
        return 7
    return 1


def rule_work(event: Any, zone: ZoneInfo, window_end: datetime) -> int:
    """An upper bound of the instances a series produces from DTSTART to ``window_end``,
    computed from the rule alone, so a hostile rule is refused before anything is expanded."""
    rdates = event.get("RDATE")
    extra = sum(len(r.dts) for r in (rdates if isinstance(rdates, list) else [rdates]) if r)
    rule = event.get("RRULE")
    if rule is None:
        return 1 + extra
    freq = str((rule.get("FREQ") or ["DAILY"])[0]).upper()
    interval = max(1, int((rule.get("INTERVAL") or [1])[0]))
    start = _instant(event["DTSTART"].dt, zone)
    end = window_end
    if rule.get("UNTIL"):
        end = min(end, _instant(rule["UNTIL"][0], zone))
    periods = max(0, int((end - start).total_seconds() // (_PERIOD.get(freq, 1) * interval))) + 1
    per_period = 1
    for part, values in rule.items():
        if part.startswith("BY") and part != "BYSETPOS":
            per_period *= max(1, len(values)) * _expansion(part, freq)
    bound = periods * per_period
    if rule.get("COUNT"):
        bound = min(bound, int(rule["COUNT"][0]))
    return bound + extra


def _check_work(cal: icalendar.Calendar, series: set[str], zone: ZoneInfo, end: datetime,
                limits: Limits) -> None:  # fmt: skip
    for index, event in enumerate(cal.walk("VEVENT")):
        if str(event["UID"]) not in series:
            continue
        try:
            work = rule_work(event, zone, end)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            raise malformed(f"VEVENT #{index + 1} has an invalid RRULE.", index=index) from None
        if work > limits.work:
            raise _too_many(
                f"a recurring event would expand to more than {limits.work} instances",
                limit=limits.per_series,
                uid=str(event["UID"])[:200],
                component="VEVENT",
                index=index,
            )


def _occurrences(
    cal: icalendar.Calendar,
    series: set[str],
    window_start: datetime,
    window_end: datetime,
    zone: ZoneInfo,
    limits: Limits,
) -> list[Any]:
    """Every event instance overlapping the window, in no particular order.

    Only series (UIDs with RRULE, RDATE or RECURRENCE-ID) go through recurring-ical-events: a
    single event is its one instance, and expanding a 10,000-event feed of mostly single events
    through the library costs about twice the parse (``python -m bench calendar``). The series
    are expanded in one ``between`` call: ``_check_work`` has already refused any rule whose
    expansion up to the window's end exceeds the work limit, so ``FREQ=SECONDLY`` never reaches
    the library. (Iterating ``after()`` lazily instead re-expands every series once per growing
    window: 4.8 s of a 5 s first sync of a 2,000-event feed.)
    """
    singles = [e for e in cal.walk("VEVENT") if str(e["UID"]) not in series]
    if len(singles) > limits.total:
        raise _too_many(f"more than {limits.total} events", limit=limits.total)
    _check_work(cal, series, zone, window_end, limits)
    try:
        expanded = (
            recurring_ical_events.of(_only(cal, series)).between(window_start, window_end)
            if series
            else []
        )
    except (ValueError, TypeError) as exc:  # InvalidCalendar and bad rules are ValueErrors
        raise malformed("A recurring event could not be expanded.", reason=str(exc)[:200]) from None
    occurrences: list[Any] = []
    per_series: dict[str, int] = {}
    for occ in expanded:
        uid = str(occ["UID"])
        per_series[uid] = per_series.get(uid, 0) + 1
        if per_series[uid] > limits.per_series:
            raise _too_many(
                f"a recurring event has more than {limits.per_series} instances"
                " within the horizon",
                limit=limits.per_series,
                uid=uid[:200],
            )
        occurrences.append(occ)
        if len(singles) + len(occurrences) > limits.total:
            raise _too_many(f"more than {limits.total} busy instances", limit=limits.total)
    return singles + occurrences


def busy_instances(
    cal: icalendar.Calendar,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
    skip_uids: frozenset[str] = frozenset(),
    limits: Limits = Limits(),
) -> list[BusyInstance]:
    """Busy instances overlapping the window; transparent and cancelled events are not busy."""
    series = _series_uids(cal)
    found: dict[tuple[str, str], BusyInstance] = {}
    for occ in _occurrences(cal, series, window_start, window_end, zone, limits):
        uid = str(occ["UID"])
        if uid in skip_uids:
            continue
        if str(occ.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(occ.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        raw_start = occ["DTSTART"].dt
        start, end = _instant(raw_start, zone), _instant(_end(occ, raw_start), zone)
        if end <= start:
            continue  # a point in time blocks nothing
        if uid not in series and (end <= window_start or start >= window_end):
            continue  # the library filtered series by the window; singles are filtered here
        rid = recurrence_key(occ["RECURRENCE-ID"].dt, zone) if uid in series else ""
        found.setdefault((uid, rid), BusyInstance(uid, rid, start, end))
    return sorted(found.values(), key=lambda b: (b.starts_at, b.uid, b.recurrence_id))


def conflicts(
    busy: list[BusyInstance], appointments: list[tuple[str, datetime, datetime]]
) -> list[dict[str, str]]:
    """Busy instances overlapping booked appointments (half-open ranges)."""
    out: list[dict[str, str]] = []
    for b in busy:
        for appt_id, start, end in appointments:
            if b.starts_at < end and start < b.ends_at:
                out.append(
                    {
                        "uid": b.uid,
                        "recurrence_id": b.recurrence_id,
                        "appointment_id": appt_id,
                        "starts_at": b.starts_at.isoformat(),
                        "ends_at": b.ends_at.isoformat(),
                    }
                )
    return out
