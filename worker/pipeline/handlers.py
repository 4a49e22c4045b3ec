"""Which service function applies which job kind (the worker half of ``shared.kinds``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shared.db.uow import UnitOfWork
from worker.calendar import links as calendar_links
from worker.pipeline.context import JobContext
from worker.scheduling import appointments, closures, holidays, plans

Handler = Callable[[UnitOfWork, JobContext, Any], dict[str, Any]]


def _deferred(module: str, name: str) -> Handler:
    """A handler whose module is imported on the first job of its kind, not with the worker.

    Calendar sync and publish need icalendar, recurring_ical_events, caldav (lxml, niquests),
    httpx and pybreaker: about 20 MiB per process that every worker would otherwise carry from
    import, copied into each pool child, although only calendar jobs use them.
    """

    def handler(uow: UnitOfWork, ctx: JobContext, payload: Any) -> dict[str, Any]:
        apply: Handler = getattr(importlib.import_module(module), name)
        return apply(uow, ctx, payload)

    handler.__name__ = handler.__qualname__ = name
    return handler


HANDLERS: dict[str, Handler] = {
    "set_working_plan": plans.set_working_plan,
    "add_exception": closures.add_closure,
    "remove_exception": closures.remove_closure,
    "set_holidays": holidays.set_holidays,
    "book_appointment": appointments.book_appointment,
    "cancel_appointment": appointments.cancel_appointment,
    "reschedule_appointment": appointments.reschedule_appointment,
    "link_calendar": calendar_links.link_calendar,
    "unlink_calendar": calendar_links.unlink_calendar,
    "sync_calendar": _deferred("worker.calendar.sync", "sync_calendar"),
    "publish_calendar": _deferred("worker.calendar.publish", "publish_calendar"),
}
