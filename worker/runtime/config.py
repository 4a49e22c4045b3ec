"""The worker's whole Celery configuration: the shared one plus what only a worker has."""

from __future__ import annotations

from typing import Any

from shared.calendar_settings import get_calendar_settings
from shared.celery_config import celery_config
from shared.settings import Settings
from worker.beat_schedule import beat_schedule

SCREENING_CONSUMER = "worker.runtime.consumer:ScreeningConsumer"
TOLERANT_REDIS_TRANSPORT = "worker.runtime.transport:Transport"
LEADER_SCHEDULER = "worker.runtime.beat_scheduler:LeaderScheduler"


def worker_config(settings: Settings) -> dict[str, Any]:
    conf = celery_config(settings)
    # Every message is screened (size, content type, arguments) before dispatch, and each
    # refusal is recorded (worker.runtime.consumer).
    conf["worker_consumer"] = SCREENING_CONSUMER
    if settings.broker_url.startswith("redis://"):
        # Survives queue items that are not kombu envelopes (worker.runtime.transport).
        conf["broker_transport"] = TOLERANT_REDIS_TRANSPORT
    conf["beat_schedule"] = beat_schedule(settings, get_calendar_settings())
    # Any number of beats: one leads (a PostgreSQL advisory lock), runs the reconciler in
    # process and sends the calendar tick; the others stand by.
    conf["beat_scheduler"] = LEADER_SCHEDULER
    return conf
