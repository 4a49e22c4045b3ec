"""Bindings for calendar sync and publish that do not import them until their first job.

Those services need icalendar, recurring_ical_events, caldav (lxml, niquests), httpx and
pybreaker: about 20 MiB per process that every worker would otherwise carry from import,
copied into each pool child, although only calendar jobs use them.
"""

from __future__ import annotations

from shared import kinds
from shared.db.uow import UnitOfWork
from shared.domain.calendar_payloads import LinkRef, PublishCalendarPayload
from worker.pipeline.context import Applied, JobContext
from worker.pipeline.handlers import handles


@handles(kinds.SYNC_CALENDAR)
def sync_calendar(uow: UnitOfWork, ctx: JobContext, ref: LinkRef) -> Applied:
    from worker.calendar import sync  # deferred: see the module docstring

    return sync.sync_calendar(uow, ctx, ref)


@handles(kinds.PUBLISH_CALENDAR)
def publish_calendar(uow: UnitOfWork, ctx: JobContext, payload: PublishCalendarPayload) -> Applied:
    from worker.calendar import publish  # deferred: see the module docstring

    return publish.publish_calendar(uow, ctx, payload)
