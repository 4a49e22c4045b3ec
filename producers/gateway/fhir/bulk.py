"""A Slot Publisher per HL7's SMART Scheduling Links: ``$bulk-publish`` and its NDJSON files.

The manifest lists one NDJSON file of Schedule resources and one of Slot resources (free slots
of the next ``PUBLISH_DAYS`` days). ``_since`` (an instant) limits both to doctors whose schedule
changed after it, so booking portals poll incrementally; the manifest's ``transactionTime`` is
the value to pass next time. Files are streamed doctor by doctor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import or_, select

from producers.gateway.auth import allow, current_settings, roles_note
from producers.gateway.clients import Principal
from producers.gateway.doctors import availability_cache
from producers.gateway.fhir import resources
from producers.gateway.job_queries import like_pattern
from producers.gateway.problems import problem_responses
from shared.availability import get_availability
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.settings import Settings

router = APIRouter(prefix="/fhir/r4", tags=["FHIR R4"])
READ = allow("submitter", "reader", "operator")
PUBLISH_DAYS = 28
MAX_DOCTORS = 5000
NDJSON = "application/fhir+ndjson"
Since = Annotated[AwareDatetime | None, Query(alias="_since")]


def _doctors(who: Principal, since: datetime | None) -> list[tuple[str, str, datetime]]:
    query = select(Doctor.id, Doctor.time_zone, Doctor.updated_at).order_by(Doctor.id)
    query = query.where(Doctor.id.regexp_match(r"^[A-Za-z0-9.-]{1,64}$"))
    if not who.all_doctors:
        query = query.where(
            or_(*[Doctor.id.like(like_pattern(p), escape="\\") for p in who.doctor_patterns])
        )
    if since is not None:
        query = query.where(Doctor.updated_at > since)
    with UnitOfWork() as uow:
        return [(i, z, u) for i, z, u in uow.session.execute(query.limit(MAX_DOCTORS))]


@router.get(
    "/$bulk-publish",
    summary="SMART Scheduling Links manifest (Schedule and Slot NDJSON files)",
    description=roles_note("submitter", "reader", "operator"),
    responses=problem_responses(401, 403, 422),
)
def manifest(
    request: Request, who: Annotated[Principal, Depends(READ)], since: Since = None
) -> JSONResponse:
    base = str(request.base_url).rstrip("/") + "/fhir/r4/$bulk-publish"
    query = f"?_since={since.isoformat()}" if since else ""
    query = query.replace("+", "%2B")
    body: dict[str, Any] = {
        "transactionTime": datetime.now(UTC).isoformat(),
        "request": str(request.url),
        "output": [
            {"type": "Schedule", "url": f"{base}/Schedule.ndjson{query}"},
            {"type": "Slot", "url": f"{base}/Slot.ndjson{query}"},
        ],
        "error": [],
    }
    return JSONResponse(body)


def _lines(resources_: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for resource in resources_:
        yield json.dumps(resource, separators=(",", ":")).encode() + b"\n"


@router.get(
    "/$bulk-publish/Schedule.ndjson",
    summary="Schedules as NDJSON",
    description=roles_note("submitter", "reader", "operator"),
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422),
    },
)
def schedules_file(
    who: Annotated[Principal, Depends(READ)], since: Since = None
) -> StreamingResponse:
    doctors = _doctors(who, since)
    found = (resources.schedule(i, z, u) for i, z, u in doctors)
    return StreamingResponse(_lines(found), media_type=NDJSON)


@router.get(
    "/$bulk-publish/Slot.ndjson",
    summary="Free slots of the next 28 days as NDJSON",
    description=roles_note("submitter", "reader", "operator"),
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422),
    },
)
def slots_file(
    who: Annotated[Principal, Depends(READ)],
    settings: Annotated[Settings, Depends(current_settings)],
    since: Since = None,
) -> StreamingResponse:
    doctors = _doctors(who, since)
    today = datetime.now(UTC).date()
    cache = availability_cache(settings)

    def slots() -> Iterator[dict[str, Any]]:
        for doctor, _zone, _updated in doctors:
            try:
                answer = get_availability(
                    cache, doctor, today, today + timedelta(days=PUBLISH_DAYS)
                )
            except SchedqError:
                continue  # removed since listed, or unreadable: the next poll has it
            for free in answer["slots"]:
                if free.get("remaining", 1) > 0:
                    yield resources.slot(doctor, free)

    return StreamingResponse(_lines(slots()), media_type=NDJSON)
