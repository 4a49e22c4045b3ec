"""The whole beat schedule: every periodic task schedq runs, in one place.

- ``schedq-reconcile``: the reconciler republishes ledger jobs the broker lost
  (``worker.reliability.reconciler``), every ``SCHEDQ_RECONCILE_INTERVAL_SECONDS``. It runs in
  the leading beat process itself (``worker.runtime.beat_scheduler``), never through a queue: a
  message would wait behind the very backlog it has to recover.
- ``calendar-enqueue-due-syncs``: every ``tick`` the calendar task submits the ``sync_calendar``
  jobs that are due: each active import link once per ``SCHEDQ_CALENDAR_SYNC_INTERVAL_SECONDS``,
  at a per-link phase up to ``SCHEDQ_CALENDAR_SYNC_JITTER_SECONDS`` (``worker.calendar.beat``).
- ``schedq-retention``: redacts payloads and patient references and deletes poison records and
  dead letters past their retention (``worker.reliability.retention``), every
  ``SCHEDQ_RETENTION_INTERVAL_SECONDS``.
Only the leading beat runs or sends anything (``worker.runtime.leader``). A sent entry expires
after one period: a run that waited longer is superseded by the next one.
"""

from __future__ import annotations

from typing import Any

from shared.calendar_settings import CalendarSettings
from shared.settings import Settings
from worker.calendar.beat_task import TASK_NAME as CALENDAR_TICK_TASK

RECONCILE_TASK = "schedq.reconcile"
RETENTION_TASK = "schedq.retention"


def calendar_tick_seconds(calendar: CalendarSettings) -> float:
    # Tick often enough that a link's phase is honoured to within a tenth of the interval.
    return float(max(5, min(60, calendar.sync_interval_seconds // 10)))


def beat_schedule(settings: Settings, calendar: CalendarSettings) -> dict[str, dict[str, Any]]:
    reconcile_every = settings.reconcile_interval_seconds
    tick = calendar_tick_seconds(calendar)
    return {
        "schedq-reconcile": {
            "task": RECONCILE_TASK,
            "schedule": reconcile_every,
            "options": {},  # run in beat, not sent (worker.runtime.beat_scheduler.IN_BEAT)
        },
        "schedq-retention": {
            "task": RETENTION_TASK,
            "schedule": settings.retention_interval_seconds,
            "options": {
                "queue": settings.schedule_queue,
                "expires": settings.retention_interval_seconds,
            },
        },
        "calendar-enqueue-due-syncs": {
            "task": CALENDAR_TICK_TASK,
            "schedule": tick,
            "options": {"queue": settings.calendar_queue, "expires": tick},
        },
    }
