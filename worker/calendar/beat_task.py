"""The beat tick that submits due ``sync_calendar`` jobs (an adapter: the service decides)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task

from shared.calendar_settings import get_calendar_settings
from shared.settings import get_settings

log = logging.getLogger("schedq.calendar")
TASK_NAME = "schedq.calendar.enqueue_due_syncs"


@shared_task(name=TASK_NAME, ignore_result=True, acks_late=True)
def enqueue_due_syncs() -> int:
    from worker.calendar.beat import enqueue_due_syncs as enqueue

    count = enqueue(get_settings(), get_calendar_settings(), datetime.now(UTC))
    log.info("calendar beat submitted %d sync job(s)", count)
    return count
