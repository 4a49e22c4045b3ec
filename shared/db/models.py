"""Import every table module so ``Base.metadata`` is complete (Alembic and tests use this)."""

from shared.db.base import Base
from shared.db.calendar import CalendarLink, ExpandedSeries, ExportedEvent, ExternalBusy
from shared.db.clients import ApiClient
from shared.db.domain import DoctorHolidayCalendar, HolidayCalendar, HolidayDate, ScheduleClosure
from shared.db.jobs import AuditEntry, Job
from shared.db.reliability import DeadLetter, JobAttempt, PoisonMessage
from shared.db.schedule import Appointment, Doctor, WorkingPlan

__all__ = [
    "ApiClient",
    "Appointment",
    "AuditEntry",
    "Base",
    "CalendarLink",
    "DeadLetter",
    "Doctor",
    "DoctorHolidayCalendar",
    "ExpandedSeries",
    "ExportedEvent",
    "ExternalBusy",
    "HolidayCalendar",
    "HolidayDate",
    "Job",
    "JobAttempt",
    "PoisonMessage",
    "ScheduleClosure",
    "WorkingPlan",
]
