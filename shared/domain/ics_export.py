"""Appointments -> iCalendar (pure). No patient data beyond the opaque reference.

The UID is derived from the appointment id, so it is stable across publishes and feeds;
``SEQUENCE`` grows each time a published appointment changes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import icalendar

PRODID = "-//schedq//calendar export//EN"

# FHIR Appointment.status -> iCalendar STATUS.
_STATUS = {
    "proposed": "TENTATIVE",
    "pending": "TENTATIVE",
    "waitlist": "TENTATIVE",
    "booked": "CONFIRMED",
    "arrived": "CONFIRMED",
    "checked-in": "CONFIRMED",
    "fulfilled": "CONFIRMED",
    "cancelled": "CANCELLED",
    "noshow": "CANCELLED",
    "entered-in-error": "CANCELLED",
}


@dataclass(frozen=True)
class AppointmentView:
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    patient_ref: str
    updated_at: datetime


def uid_for(appointment_id: uuid.UUID) -> str:
    return f"{appointment_id}@schedq"


def content_hash(appt: AppointmentView) -> str:
    """What a remote copy must show; a publish sends an appointment again only when it moves."""
    text = "|".join(
        [appt.starts_at.isoformat(), appt.ends_at.isoformat(), appt.status, appt.patient_ref]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def event(appt: AppointmentView, sequence: int) -> icalendar.Event:
    ev = icalendar.Event()
    ev.add("UID", uid_for(appt.id))
    ev.add("DTSTAMP", appt.updated_at)
    ev.add("DTSTART", appt.starts_at)
    ev.add("DTEND", appt.ends_at)
    ev.add("SEQUENCE", sequence)
    ev.add("SUMMARY", "Appointment")
    # The opaque reference only: names and clinical data never leave schedq.
    ev.add("DESCRIPTION", f"Patient reference: {appt.patient_ref}")
    ev.add("STATUS", _STATUS.get(appt.status, "TENTATIVE"))
    ev.add("TRANSP", "TRANSPARENT" if _STATUS.get(appt.status) == "CANCELLED" else "OPAQUE")
    return ev


def calendar(events: list[icalendar.Event], name: str | None = None) -> bytes:
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    if name:
        cal.add("X-WR-CALNAME", name)
    for ev in events:
        cal.add_component(ev)
    return cal.to_ical()
