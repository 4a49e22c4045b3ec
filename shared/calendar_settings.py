"""Calendar-sync settings (``SCHEDQ_CALENDAR_*``), kept apart from the core settings object.

Credentials are not settings: an operator registers them (``schedq credentials add``), bound to
one doctor and one origin, encrypted at rest (``worker.calendar.credentials``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CalendarSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDQ_CALENDAR_", extra="ignore", frozen=True)

    # Recurring events expand over [now - past_days, now + horizon_days].
    horizon_days: int = Field(180, ge=1, le=3660)
    past_days: int = Field(1, ge=0, le=366)
    # An unchanged source is expanded again (unconditional fetch / full CalDAV listing) once
    # its last expansion window ends this many hours before the current one.
    reexpand_hours: int = Field(24, ge=1, le=24 * 366)
    # Any provider response (feed, CalDAV answer, redirect-free final body) bigger than this,
    # counted after decompression, applies nothing: a provider bug or an attack, not a calendar.
    max_response_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    # One network operation (connect, one read) to a provider.
    http_timeout: float = Field(10.0, gt=0, le=60)
    # The whole interaction with a provider (every request, redirect and read of one sync or
    # publish); a server trickling one byte a second is cut off here.
    request_deadline_seconds: float = Field(30.0, gt=0, le=300)
    max_redirects: int = Field(3, ge=0, le=10)
    # Providers are contacted only at public addresses; these networks (CIDR, comma-separated)
    # are allowed too. Tests and the demo name 127.0.0.1/32 here; production normally nothing.
    allowed_networks: Annotated[tuple[Network, ...], NoDecode] = ()
    # Work one link can cause: instances of one recurring series, busy rows of one link within
    # the horizon. Above either, the sync applies nothing (ICS_TOO_MANY_INSTANCES).
    max_instances_per_series: int = Field(1000, ge=1)
    max_busy_rows_per_link: int = Field(20_000, ge=1)
    # Circuit breaker per provider host, state shared by all workers in Redis.
    breaker_fail_max: int = Field(5, ge=1, le=1000)
    breaker_reset_seconds: int = Field(60, ge=1, le=3600)
    # Beat: every active link is synced this often, plus a random delay up to the jitter.
    sync_interval_seconds: int = Field(900, ge=10)
    sync_jitter_seconds: int = Field(60, ge=0)
    # Conflicts listed on a job's outcome (the count is always complete).
    max_listed_conflicts: int = Field(50, ge=1, le=1000)

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return tuple(ipaddress.ip_network(v) for v in value or ())  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def get_calendar_settings() -> CalendarSettings:
    return CalendarSettings()


def reset_calendar_settings_cache() -> None:
    get_calendar_settings.cache_clear()
