"""The job kinds: name, payload shape, queue and order key of each, declared once here.

Producers validate and route with this table; the worker binds one service function to each
kind with ``worker.pipeline.handlers.handles`` (beside the service) and registers one Celery
task per kind. ``tests/unit/test_kinds.py`` proves every kind has all three. Adding a kind:
docs/architecture.md, "Adding a job kind".
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
from shared.domain.closures import AddClosurePayload, RemoveClosurePayload
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


def by_doctor(payload: Payload) -> str | None:
    """The order key of a job about one doctor: that doctor's jobs apply one by one."""
    return getattr(payload, "doctor_id", None)


def by_holiday_calendar(payload: Payload) -> str | None:
    # A calendar's jobs apply in order; the service also locks each doctor it touches.
    return f"holidays:{getattr(payload, 'calendar', '')}"


def by_calendar_link(payload: Payload) -> str | None:
    # A sync talks to a provider that may hang: it is ordered per link, never in its doctor's
    # queue; it takes the doctor's lock only to apply what it fetched (worker.calendar.sync).
    return f"calendar-link:{getattr(payload, 'link_id', '')}"


def by_doctor_publish(payload: Payload) -> str | None:
    # Publishing writes to a provider: ordered among the doctor's publishes, not its bookings.
    return f"calendar-publish:{getattr(payload, 'doctor_id', '')}"


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Add a kind to the table (the product's kinds below; tests add their own probe kinds)."""
    KINDS[kind.name] = kind
    return kind


# Public kind names are the documented interface: "add_exception" keeps its name although the
# code calls the concept a closure (a Python exception is something else).
SET_WORKING_PLAN = register(JobKind("set_working_plan", WorkingPlanPayload, "schedule", by_doctor))
ADD_CLOSURE = register(JobKind("add_exception", AddClosurePayload, "schedule", by_doctor))
REMOVE_CLOSURE = register(JobKind("remove_exception", RemoveClosurePayload, "schedule", by_doctor))
SET_HOLIDAYS = register(
    JobKind("set_holidays", SetHolidaysPayload, "schedule", by_holiday_calendar)
)
BOOK_APPOINTMENT = register(
    JobKind("book_appointment", BookAppointmentPayload, "schedule", by_doctor)
)
CANCEL_APPOINTMENT = register(
    JobKind("cancel_appointment", CancelAppointmentPayload, "schedule", by_doctor)
)
RESCHEDULE_APPOINTMENT = register(
    JobKind("reschedule_appointment", RescheduleAppointmentPayload, "schedule", by_doctor)
)
LINK_CALENDAR = register(JobKind("link_calendar", LinkCalendarPayload, "calendar", by_doctor))
UNLINK_CALENDAR = register(JobKind("unlink_calendar", LinkRef, "calendar", by_doctor))
SYNC_CALENDAR = register(JobKind("sync_calendar", LinkRef, "calendar", by_calendar_link))
PUBLISH_CALENDAR = register(
    JobKind("publish_calendar", PublishCalendarPayload, "calendar", by_doctor_publish)
)


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise unknown_kind(name) from None
