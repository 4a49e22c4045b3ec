"""Appointment job payloads: half-open instant ranges, an opaque patient reference, FHIR status."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.domain.plan import DOCTOR_ID
from shared.payloads import Payload

# An opaque reference (an EHR id, a hash): letters, digits and separators only, so a name with
# spaces cannot be sent by mistake.
PATIENT_REF = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/#-]+$")


class BookAppointmentPayload(Payload):
    doctor_id: str = DOCTOR_ID
    # Optional: when absent the appointment's id is derived from the job id (stable on replay).
    appointment_id: uuid.UUID | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    patient_ref: str = PATIENT_REF
    status: Literal["booked", "pending", "proposed"] = "booked"


class CancelAppointmentPayload(Payload):
    doctor_id: str = DOCTOR_ID
    appointment_id: uuid.UUID
    status: Literal["cancelled", "noshow", "entered-in-error"] = "cancelled"


class RescheduleAppointmentPayload(Payload):
    doctor_id: str = DOCTOR_ID
    appointment_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
