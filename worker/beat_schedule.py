"""Celery beat entries owned by calendar sync; ``schedq beat`` merges this dict into its own.

Every ``tick`` the worker task submits the ``sync_calendar`` jobs that are due: each active
import link once per ``SCHEDQ_CALENDAR_SYNC_INTERVAL_SECONDS``, at a per-link phase up to
``SCHEDQ_CALENDAR_SYNC_JITTER_SECONDS`` (see ``worker.services.calendar_beat``).
"""

from __future__ import annotations

from typing import Any

from shared.calendar_settings import get_calendar_settings
from shared.settings import get_settings
from worker.tasks.calendar_beat import TASK_NAME


def calendar_beat_schedule() -> dict[str, dict[str, Any]]:
    calendar = get_calendar_settings()
    # Tick often enough that a link's phase is honoured to within a tenth of the interval.
    tick = float(max(5, min(60, calendar.sync_interval_seconds // 10)))
    return {
        "calendar-enqueue-due-syncs": {
            "task": TASK_NAME,
            "schedule": tick,
            # A tick not consumed before the next one is worthless: let it expire.
            "options": {"queue": get_settings().calendar_queue, "expires": tick},
        }
    }


BEAT_SCHEDULE: dict[str, dict[str, Any]] = calendar_beat_schedule()
