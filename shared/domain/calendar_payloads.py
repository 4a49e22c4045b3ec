"""Payload shapes of the calendar jobs (queue ``calendar``). Ids only: never a secret."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, UrlConstraints, model_validator

from shared.payloads import Payload

DoctorId = Annotated[str, Field(min_length=1, max_length=64)]


def link_id_for(doctor_id: str, url: str) -> uuid.UUID:
    """Stable link id: linking the same URL again updates the link instead of duplicating it."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"schedq:{doctor_id}:{url}")


class LinkCalendarPayload(Payload):
    doctor_id: DoctorId
    kind: Literal["caldav", "ics"]
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)]
    username: Annotated[str, Field(max_length=200)] | None = None
    # Names SCHEDQ_SECRET_<REF> on the workers; the secret itself never travels in a job.
    secret_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] | None = None
    direction: Literal["import", "export", "both"] = "import"
    active: bool = True

    @model_validator(mode="after")
    def _feeds_are_read_only(self) -> LinkCalendarPayload:
        if self.kind == "ics" and self.direction != "import":
            raise ValueError("an ICS feed can only be imported (direction 'import')")
        if self.url.username or self.url.password:
            raise ValueError("credentials must not be in the URL; use username and secret_ref")
        return self


class LinkRef(Payload):
    """Names one link of one doctor (the doctor id orders the job among that doctor's jobs)."""

    doctor_id: DoctorId
    link_id: uuid.UUID


class PublishCalendarPayload(Payload):
    doctor_id: DoctorId
    # None: every export link of the doctor.
    link_id: uuid.UUID | None = None
