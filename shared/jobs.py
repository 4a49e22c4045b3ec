"""The catalogue of job kinds: payload shape, queue and Celery task name for each.

Producers and workers both read this table; handlers (the services that apply a kind) are
registered on the worker side only (``worker.handlers``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from shared.domain.appointments import (
    BookAppointmentPayload,
    CancelAppointmentPayload,
    RescheduleAppointmentPayload,
)
from shared.domain.calendar_payloads import LinkCalendarPayload, LinkRef, PublishCalendarPayload
from shared.domain.exceptions import AddExceptionPayload, RemoveExceptionPayload
from shared.domain.holidays import SetHolidaysPayload
from shared.domain.plan import WorkingPlanPayload
from shared.errors import unknown_kind
from shared.payloads import Payload
from shared.settings import Settings

QueueRole = Literal["schedule", "calendar"]


@dataclass(frozen=True)
class JobKind:
    name: str
    payload: type[Payload]
    queue_role: QueueRole
    # Jobs sharing an order key are applied one by one in submission order.
    order_key: Callable[[Payload], str | None]

    @property
    def task_name(self) -> str:
        return f"schedq.{self.queue_role}.{self.name}"

    def queue(self, settings: Settings) -> str:
        return settings.schedule_queue if self.queue_role == "schedule" else settings.calendar_queue


def _doctor(payload: Payload) -> str | None:
    return getattr(payload, "doctor_id", None)


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def _holiday_calendar(payload: Payload) -> str | None:
    # A calendar's jobs apply in order; the service also locks each doctor it touches.
    return f"holidays:{getattr(payload, 'calendar', '')}"


register(JobKind("set_working_plan", WorkingPlanPayload, "schedule", _doctor))
register(JobKind("add_exception", AddExceptionPayload, "schedule", _doctor))
register(JobKind("remove_exception", RemoveExceptionPayload, "schedule", _doctor))
register(JobKind("set_holidays", SetHolidaysPayload, "schedule", _holiday_calendar))
register(JobKind("book_appointment", BookAppointmentPayload, "schedule", _doctor))
register(JobKind("cancel_appointment", CancelAppointmentPayload, "schedule", _doctor))
register(JobKind("reschedule_appointment", RescheduleAppointmentPayload, "schedule", _doctor))
register(JobKind("link_calendar", LinkCalendarPayload, "calendar", _doctor))
register(JobKind("unlink_calendar", LinkRef, "calendar", _doctor))
register(JobKind("sync_calendar", LinkRef, "calendar", _doctor))
register(JobKind("publish_calendar", PublishCalendarPayload, "calendar", _doctor))


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise unknown_kind(name) from None
