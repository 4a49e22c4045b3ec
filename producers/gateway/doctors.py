"""``/v1/doctors/{id}``: availability (ETag from the schedule version) and the ICS feed.

The ETag changes exactly when the doctor's schedule version does (every schedule change bumps
it), so a booking front end polling with ``If-None-Match`` gets 304 until something changed.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, Field

from producers.gateway.auth import allow, current_settings, require_doctor, roles_note
from producers.gateway.clients import Principal
from producers.gateway.problems import problem_responses
from shared.availability import get_availability
from shared.availability_cache import AvailabilityCache
from shared.ics_feed import doctor_feed
from shared.settings import Settings

router = APIRouter(prefix="/v1/doctors", tags=["doctors"])
READ = allow("submitter", "reader", "operator")
DoctorId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
_caches: dict[str, AvailabilityCache] = {}


class Availability(BaseModel):
    doctor_id: str
    time_zone: str
    from_: str = Field(alias="from")
    to: str
    schedule_version: int
    slots: list[dict[str, Any]]
    possibly_stale: bool
    cached: bool


def availability_cache(settings: Settings) -> AvailabilityCache:
    cache = _caches.get(settings.broker_url)
    if cache is None:
        cache = _caches[settings.broker_url] = AvailabilityCache(settings.broker_url)
    return cache


def etag_of(doctor_id: str, version: int, start: str, end: str) -> str:
    digest = hashlib.sha256(f"{doctor_id}|{start}|{end}".encode()).hexdigest()[:16]
    return f'"v{version}-{digest}"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@router.get(
    "/{doctor_id}/availability",
    response_model=Availability,
    response_model_by_alias=True,
    summary="Free slots with remaining capacity",
    description=(
        "`from`/`to` are dates (the doctor's local days) or instants with an offset, at most "
        "62 days apart. The ETag follows the schedule version: send it as `If-None-Match` for "
        "304 until the schedule changes. " + roles_note("submitter", "reader", "operator")
    ),
    responses={304: {"description": "Not modified"}, **problem_responses(401, 403, 404, 422)},
)
def availability(
    doctor_id: DoctorId,
    response: Response,
    who: Annotated[Principal, Depends(READ)],
    settings: Annotated[Settings, Depends(current_settings)],
    start: Annotated[date | datetime, Query(alias="from")],
    end: Annotated[date | datetime, Query(alias="to")],
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Any:
    require_doctor(who, doctor_id, "doctor_id")
    answer = get_availability(availability_cache(settings), doctor_id, start, end)
    etag = etag_of(doctor_id, answer["schedule_version"], start.isoformat(), end.isoformat())
    if answer.get("possibly_stale"):
        etag = "W/" + etag
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, etag.removeprefix("W/")):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return answer


@router.get(
    "/{doctor_id}/calendar.ics",
    response_class=Response,
    summary="The doctor's appointments as iCalendar",
    description="Opaque patient references only. " + roles_note("submitter", "reader", "operator"),
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404),
    },
)
def calendar_ics(
    doctor_id: DoctorId,
    who: Annotated[Principal, Depends(READ)],
    days_back: Annotated[int, Query(ge=0, le=366)] = 1,
) -> Response:
    require_doctor(who, doctor_id, "doctor_id")
    return Response(doctor_feed(doctor_id, days_back), media_type="text/calendar")
