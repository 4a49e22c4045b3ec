"""A parsed calendar -> busy instances (pure: no I/O). recurring-ical-events expands series.

Any limit exceeded makes the whole calendar fail with one error, so an import applies all of a
feed or nothing. Times become UTC instants: floating times and all-day dates are read on the
doctor's local calendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from shared.domain.ical_parse import malformed, parse_calendar
from shared.domain.ical_series import BusyInstance, Expansion, SeriesExpansion, series_digests
from shared.errors import SchedqError, error

__all__ = [
    "BusyInstance",
    "Expansion",
    "Limits",
    "SeriesExpansion",
    "busy_instances",
    "parse_calendar",
]


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


def _too_many(problem: str, **details: Any) -> SchedqError:
    return error("ICS_TOO_MANY_INSTANCES", problem=problem, details=details)


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
    fresh: set[str],
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    limits: Limits,
    reused_count: int = 0,
) -> tuple[list[Any], list[Any]]:
    """Single events, and every instance of the ``fresh`` series overlapping the window.

    Only series (UIDs with RRULE, RDATE or RECURRENCE-ID) go through recurring-ical-events: a
    single event is its one instance, and expanding a 10,000-event feed of mostly single events
    through the library costs about twice the parse (``python -m bench calendar``). The series
    are expanded in one ``between`` call: ``_check_work`` has already refused any rule whose
    expansion up to the window's end exceeds the work limit, so ``FREQ=SECONDLY`` never reaches
    the library. (Iterating ``after()`` lazily instead re-expands every series once per growing
    window: 4.8 s of a 5 s first sync of a 2,000-event feed.) ``reused_count`` instances of
    series not expanded again count towards the calendar's cap as if they were.
    """
    singles = [e for e in cal.walk("VEVENT") if str(e["UID"]) not in series]
    if len(singles) + reused_count > limits.total:
        raise _too_many(f"more than {limits.total} events", limit=limits.total)
    _check_work(cal, fresh, zone, window[1], limits)
    try:
        expanded = recurring_ical_events.of(_only(cal, fresh)).between(*window) if fresh else []
    except (ValueError, TypeError) as exc:  # InvalidCalendar and bad rules are ValueErrors
        raise malformed("A recurring event could not be expanded.", reason=str(exc)[:200]) from None
    occurrences: list[Any] = []
    per_series: dict[str, int] = {}
    for occ in expanded:
        uid = str(occ["UID"])
        per_series[uid] = per_series.get(uid, 0) + 1
        if per_series[uid] > limits.per_series:
            raise _too_many(
                f"a recurring event has more than {limits.per_series} instances within the horizon",
                limit=limits.per_series,
                uid=uid[:200],
            )
        occurrences.append(occ)
        if len(singles) + reused_count + len(occurrences) > limits.total:
            raise _too_many(f"more than {limits.total} busy instances", limit=limits.total)
    return singles, occurrences


def _busy(occ: Any, zone: ZoneInfo, in_series: bool) -> BusyInstance | None:
    """The instance as busy time; None for transparent, cancelled and zero-length ones."""
    if str(occ.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(occ.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    raw_start = occ["DTSTART"].dt
    start, end = _instant(raw_start, zone), _instant(_end(occ, raw_start), zone)
    if end <= start:
        return None  # a point in time blocks nothing
    rid = recurrence_key(occ["RECURRENCE-ID"].dt, zone) if in_series else ""
    return BusyInstance(str(occ["UID"]), rid, start, end)


def expand_calendar(
    cal: icalendar.Calendar,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
    limits: Limits = Limits(),
    known: Mapping[str, SeriesExpansion] | None = None,
) -> Expansion:
    """Busy time of the calendar over the window, grouped by series.

    ``known`` holds earlier expansions by UID: a series whose digest is unchanged is taken
    from there instead of being expanded again. The caller passes only expansions whose
    window still covers this one (``worker.calendar.sync`` drops them all when the horizon
    has moved on by a re-expansion period).
    """
    known = known or {}
    series = _series_uids(cal)
    context = f"{zone.key}|{limits.per_series}|{limits.work_factor}"
    digests = series_digests(cal, series, context) if series else {}
    reused = {u: known[u] for u in series if u in known and known[u].digest == digests[u]}
    fresh = series - reused.keys()
    singles, occurrences = _occurrences(
        cal, series, fresh, (window_start, window_end), zone, limits,
        sum(r.occurrences for r in reused.values()),
    )  # fmt: skip
    single_busy: dict[str, BusyInstance] = {}  # a UID given twice: its first busy event counts
    for occ in singles:
        b = _busy(occ, zone, in_series=False)
        # The library filtered series by the window; singles are filtered here.
        if b is not None and b.ends_at > window_start and b.starts_at < window_end:
            single_busy.setdefault(b.uid, b)
    counts = dict.fromkeys(fresh, 0)
    found: dict[str, dict[str, BusyInstance]] = {uid: {} for uid in fresh}
    for occ in occurrences:
        uid = str(occ["UID"])
        counts[uid] += 1
        b = _busy(occ, zone, in_series=True)
        if b is not None:
            found[uid].setdefault(b.recurrence_id, b)
    expansions: dict[str, SeriesExpansion] = dict(reused)
    for uid in fresh:
        expansions[uid] = SeriesExpansion(digests[uid], counts[uid], tuple(found[uid].values()))
    return Expansion(
        tuple(single_busy.values()), expansions, frozenset(reused), (window_start, window_end)
    )


def busy_instances(
    cal: icalendar.Calendar,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
    skip_uids: frozenset[str] = frozenset(),
    limits: Limits = Limits(),
) -> list[BusyInstance]:
    """Busy instances overlapping the window; transparent and cancelled events are not busy."""
    return expand_calendar(cal, zone, window_start, window_end, limits).busy(skip_uids)


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
