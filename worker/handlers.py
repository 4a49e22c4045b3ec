"""Which service function applies which job kind (the worker half of ``shared.jobs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.db.uow import UnitOfWork
from worker.context import JobContext
from worker.services import (
    appointments,
    calendar_links,
    calendar_publish,
    calendar_sync,
    exceptions,
    holidays,
    plans,
)

Handler = Callable[[UnitOfWork, JobContext, Any], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "set_working_plan": plans.set_working_plan,
    "add_exception": exceptions.add_exception,
    "remove_exception": exceptions.remove_exception,
    "set_holidays": holidays.set_holidays,
    "book_appointment": appointments.book_appointment,
    "cancel_appointment": appointments.cancel_appointment,
    "reschedule_appointment": appointments.reschedule_appointment,
    "link_calendar": calendar_links.link_calendar,
    "unlink_calendar": calendar_links.unlink_calendar,
    "sync_calendar": calendar_sync.sync_calendar,
    "publish_calendar": calendar_publish.publish_calendar,
}
