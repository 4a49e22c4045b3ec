"""Busy instances grouped by series, and the content hash that lets a sync reuse a series'
expansion from an earlier sync (pure: no I/O).

Expanding recurring events is most of an import's work after the parse. Feeds change all the
time (a new appointment, or only a regenerated DTSTAMP), while most of their series do not, so
a sync that kept each series' busy instances under a hash of what produced them can skip the
expansion of every series whose hash is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import icalendar


@dataclass(frozen=True)
class BusyInstance:
    uid: str
    recurrence_id: str  # '' for a single (non-recurring) event
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SeriesExpansion:
    """One series' busy instances over the window it was expanded for.

    ``occurrences`` counts every instance the library produced (cancelled and transparent ones
    too), so the per-calendar cap counts a reused series exactly as an expanded one.
    """

    digest: str
    occurrences: int
    instances: tuple[BusyInstance, ...]


@dataclass(frozen=True)
class Expansion:
    """A calendar's single events and series over one window; ``reused`` names the series
    taken from an earlier expansion instead of being expanded again."""

    singles: tuple[BusyInstance, ...]
    series: Mapping[str, SeriesExpansion]
    reused: frozenset[str]
    window: tuple[datetime, datetime]

    def busy(self, skip_uids: frozenset[str] = frozenset()) -> list[BusyInstance]:
        start, end = self.window
        out = [b for b in self.singles if b.uid not in skip_uids]
        for uid, exp in self.series.items():
            if uid in skip_uids:
                continue
            # A reused expansion covered an earlier window: keep what overlaps this one.
            out.extend(b for b in exp.instances if b.ends_at > start and b.starts_at < end)
        return sorted(out, key=lambda b: (b.starts_at, b.uid, b.recurrence_id))

    @property
    def fresh(self) -> frozenset[str]:
        return frozenset(self.series) - self.reused


def _without_dtstamp(ical: bytes) -> bytes:
    # DTSTAMP is when the feed was generated: many servers renew it on every request, and it
    # has no effect on when the event happens.
    return b"\r\n".join(
        line for line in ical.split(b"\r\n") if not line.upper().startswith(b"DTSTAMP")
    )


def series_digests(cal: icalendar.Calendar, series: Iterable[str], context: str) -> dict[str, str]:
    """SHA-256 per series UID over its components (DTSTAMP left out), every VTIMEZONE of the
    calendar and ``context`` (what else the expansion depends on: the doctor's zone, limits)."""
    wanted = set(series)
    base = hashlib.sha256(context.encode())
    for zone in cal.walk("VTIMEZONE"):
        base.update(zone.to_ical())
    parts: dict[str, list[bytes]] = {uid: [] for uid in wanted}
    for event in cal.walk("VEVENT"):
        uid = str(event["UID"])
        if uid in wanted:
            parts[uid].append(_without_dtstamp(event.to_ical()))
    out: dict[str, str] = {}
    for uid, chunks in parts.items():
        h = base.copy()
        for chunk in sorted(chunks):  # an override's position in the feed changes nothing
            h.update(len(chunk).to_bytes(8, "big"))
            h.update(chunk)
        out[uid] = h.hexdigest()
    return out
