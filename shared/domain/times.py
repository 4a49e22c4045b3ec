"""Wall-clock parsing shared by every rule: strict ``HH:MM`` and the end-of-day ``24:00``."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# ASCII only: \d would otherwise accept other scripts' digits.
_HHMM = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))\Z", re.ASCII)
MINUTES_PER_DAY = 24 * 60


# Every rule check parses each shift's bounds several times; there are only 1,441 valid values.
@lru_cache(maxsize=4096)
def parse_hhmm(value: str) -> int | None:
    """Minutes since local midnight, or None when ``value`` is not strict ``HH:MM``.

    ``24:00`` is accepted and means the end of the day (1440), so a shift can end at midnight
    without crossing into the next day.
    """
    match = _HHMM.match(value)
    if match is None:
        return None
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) else ("24", "00")
    return int(hours) * 60 + int(minutes)


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_ZONES: frozenset[str] | None = None


def is_known_zone(name: str) -> bool:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if name not in _ZONES:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
