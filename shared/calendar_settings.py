"""Calendar-sync settings (``SCHEDQ_CALENDAR_*``), kept apart from the core settings object.

Secrets are never stored: a link names a ``secret_ref`` and the worker resolves it here from
``SCHEDQ_SECRET_<REF>`` at call time, so no database row, job payload or log line holds it.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CalendarSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDQ_CALENDAR_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    # Recurring events expand over [now - past_days, now + horizon_days].
    horizon_days: int = Field(180, ge=1, le=3660)
    past_days: int = Field(1, ge=0, le=366)
    # An unchanged source is expanded again (unconditional fetch / full CalDAV listing) once
    # its last expansion window ends this many hours before the current one.
    reexpand_hours: int = Field(24, ge=1, le=24 * 366)
    # A feed bigger than this applies nothing (a provider bug or an attack, never a calendar).
    max_feed_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    # One network call to a provider; the job runs under its doctor's lock, so keep it short.
    http_timeout: float = Field(10.0, gt=0, le=60)
    # Circuit breaker per provider host, state shared by all workers in Redis.
    breaker_fail_max: int = Field(5, ge=1, le=1000)
    breaker_reset_seconds: int = Field(60, ge=1, le=3600)
    # Beat: every active link is synced this often, plus a random delay up to the jitter.
    sync_interval_seconds: int = Field(900, ge=10)
    sync_jitter_seconds: int = Field(60, ge=0)
    # Conflicts listed on a job's outcome (the count is always complete).
    max_listed_conflicts: int = Field(50, ge=1, le=1000)


@lru_cache(maxsize=1)
def get_calendar_settings() -> CalendarSettings:
    from shared.settings import load

    return load(CalendarSettings, "SCHEDQ_CALENDAR_")


def reset_calendar_settings_cache() -> None:
    get_calendar_settings.cache_clear()


def resolve_secret(ref: str | None) -> str | None:
    """The secret a link refers to, from ``SCHEDQ_SECRET_<REF>``; None when unset."""
    if not ref:
        return None
    return os.environ.get(f"SCHEDQ_SECRET_{ref.upper()}")
