"""``/fhir/r4``: Schedules, free Slots and Appointments as FHIR R4, and async booking.

Searches answer ``searchset`` Bundles with ``self``/``next`` links (``_count``, ``_offset``).
``POST Appointment`` is asynchronous (``Prefer: respond-async``): 202 with ``Content-Location``
of a status endpoint backed by the ``book_appointment`` job; a refused booking comes back there
as an OperationOutcome carrying schedq's error code. Errors on these paths are
OperationOutcomes (``application/fhir+json``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from producers.gateway import job_queries
from producers.gateway.auth import allow, current_settings, require_doctor, roles_note
from producers.gateway.clients import Principal
from producers.gateway.doctors import availability_cache
from producers.gateway.fhir import resources
from producers.gateway.jobs import JobIn, check_job, namespaced_key, record
from producers.gateway.problems import FHIR_JSON, outcome_of, problem_responses, status_for
from shared.availability import get_availability
from shared.db.schedule import Appointment, Doctor
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, Violation, not_found, validation_failed
from shared.ledger.submit import JobRequest
from shared.settings import Settings

router = APIRouter(prefix="/fhir/r4", tags=["FHIR R4"])
READ = allow("submitter", "reader", "operator")
BOOK = allow("submitter")
MAX_COUNT = 500
SLOT_DAYS = 14  # default Slot search window when no start bounds are given


class Fhir(JSONResponse):
    media_type = FHIR_JSON


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/r4"


def _bad(code: str, path: str, message: str) -> SchedqError:
    return validation_failed([Violation(code, path, message)])


def _fhir_doctor(who: Principal, reference: str, prefix: str, path: str) -> str:
    doctor = reference.removeprefix(prefix)
    if doctor == reference or not resources.FHIR_ID.match(doctor):
        raise _bad("VALUE_FORMAT", path, f"Expected {prefix}<id>.")
    require_doctor(who, doctor, path)
    return doctor


@router.get(
    "/metadata",
    response_class=Fhir,
    summary="CapabilityStatement",
    description="What this FHIR server offers. No token needed.",
)
def metadata(request: Request) -> Fhir:
    return Fhir(resources.capability_statement(base_url(request), datetime.now(UTC)))


def _page_links(request: Request, offset: int, count: int, more: bool) -> dict[str, str]:
    url = request.url
    links = {"self": str(url)}
    if more:
        links["next"] = str(url.include_query_params(_offset=offset + count, _count=count))
    return links


@router.get(
    "/Schedule",
    response_class=Fhir,
    summary="Search Schedules (one per doctor)",
    description=roles_note("submitter", "reader", "operator"),
    responses=problem_responses(401, 403, 422),
)
def search_schedules(
    request: Request,
    who: Annotated[Principal, Depends(READ)],
    actor: Annotated[str | None, Query(max_length=100)] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)] = 100,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=1_000_000)] = 0,
) -> Fhir:
    query = select(Doctor).order_by(Doctor.id)
    if actor is not None:
        query = query.where(Doctor.id == _fhir_doctor(who, actor, "Practitioner/", "actor"))
    elif not who.all_doctors:
        likes = [
            Doctor.id.like(job_queries.like_pattern(p), escape="\\") for p in who.doctor_patterns
        ]
        query = query.where(or_(*likes))
    query = query.where(Doctor.id.regexp_match(r"^[A-Za-z0-9.-]{1,64}$"))
    with UnitOfWork() as uow:
        rows = list(uow.session.scalars(query.offset(offset).limit(count + 1)))
        found = [resources.schedule(d.id, d.time_zone, d.updated_at) for d in rows[:count]]
    links = _page_links(request, offset, count, len(rows) > count)
    return Fhir(resources.searchset(found, base_url(request), links, None))


def _bound(values: list[str]) -> tuple[date | datetime | None, date | datetime | None]:
    """``start=ge...`` / ``start=lt...`` (gt, le, sa, eb treated alike) -> [from, to)."""
    lo: date | datetime | None = None
    hi: date | datetime | None = None
    for i, raw in enumerate(values):
        prefix, text = (raw[:2], raw[2:]) if raw[:2].isalpha() else ("eq", raw)
        try:
            when: date | datetime = (
                date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            )
        except ValueError:
            raise _bad("VALUE_FORMAT", f"start[{i}]", "Expected a date or instant.") from None
        if prefix in ("ge", "gt", "sa"):
            lo = when
        elif prefix in ("lt", "le", "eb"):
            hi = when
        elif prefix == "eq" and isinstance(when, date) and not isinstance(when, datetime):
            lo, hi = when, when + timedelta(days=1)
        else:
            raise _bad("VALUE_NOT_ALLOWED", f"start[{i}]", "Use ge/gt and lt/le prefixes.")
    return lo, hi


@router.get(
    "/Slot",
    response_class=Fhir,
    summary="Search free Slots of a Schedule",
    description=(
        "`schedule=Schedule/<doctor>` is required; `start=ge<date>&start=lt<date>` bound the "
        "window (default: the next 14 days, at most 62). Only free slots exist here. "
        + roles_note("submitter", "reader", "operator")
    ),
    responses=problem_responses(401, 403, 404, 422),
)
def search_slots(
    request: Request,
    who: Annotated[Principal, Depends(READ)],
    settings: Annotated[Settings, Depends(current_settings)],
    schedule: Annotated[str, Query(max_length=100)],
    start: Annotated[list[str] | None, Query(max_length=2)] = None,
    status: Annotated[str, Query(max_length=20)] = "free",
    count: Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)] = 100,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=100_000)] = 0,
) -> Fhir:
    doctor = _fhir_doctor(who, schedule, "Schedule/", "schedule")
    lo, hi = _bound([s[:40] for s in start or []])
    today = datetime.now(UTC).date()
    lo = lo or today
    hi = hi or (lo if isinstance(lo, date) else today) + timedelta(days=SLOT_DAYS)
    free: list[dict[str, Any]] = []
    if "free" in status.split(","):
        answer = get_availability(availability_cache(settings), doctor, lo, hi)
        free = [s for s in answer["slots"] if s.get("remaining", 1) > 0]
    page = [resources.slot(doctor, s) for s in free[offset : offset + count]]
    links = _page_links(request, offset, count, len(free) > offset + count)
    return Fhir(resources.searchset(page, base_url(request), links, len(free)))


@router.get(
    "/Appointment/{appointment_id}",
    response_class=Fhir,
    summary="Read an Appointment",
    description=roles_note("submitter", "reader", "operator"),
    responses=problem_responses(401, 403, 404),
)
def read_appointment(
    appointment_id: Annotated[str, Path(max_length=64)],
    who: Annotated[Principal, Depends(READ)],
) -> Fhir:
    try:
        ident = uuid.UUID(appointment_id)
    except ValueError:
        raise not_found("appointment", appointment_id) from None
    with UnitOfWork() as uow:
        row = uow.session.get(Appointment, ident)
        if row is None or not (who.all_doctors or who.covers_doctor(row.doctor_id)):
            raise not_found("appointment", appointment_id)
        return Fhir(
            resources.appointment(
                str(row.id),
                row.doctor_id,
                row.status,
                row.starts_at,
                row.ends_at,
                row.patient_ref,
            )
        )


class Reference(BaseModel):
    model_config = ConfigDict(extra="allow")

    reference: str | None = Field(None, max_length=200)
    identifier: dict[str, Any] | None = None


class Participant(BaseModel):
    model_config = ConfigDict(extra="allow")

    actor: Reference | None = None


class AppointmentIn(BaseModel):
    """The part of a FHIR Appointment schedq books from (other elements are ignored)."""

    model_config = ConfigDict(extra="allow")

    resourceType: str = Field(pattern="^Appointment$")
    status: str = Field("booked", pattern="^(booked|pending|proposed)$")
    start: AwareDatetime
    end: AwareDatetime
    participant: list[Participant] = Field(min_length=1, max_length=10)


def _booking(resource: AppointmentIn) -> dict[str, Any]:
    doctor = patient = None
    for i, p in enumerate(resource.participant):
        actor = p.actor or Reference()
        ref = actor.reference or ""
        if ref.startswith("Practitioner/"):
            doctor = ref.removeprefix("Practitioner/")
        elif ref.startswith("Patient/"):
            patient = ref.removeprefix("Patient/")
        elif actor.identifier and isinstance(actor.identifier.get("value"), str):
            patient = actor.identifier["value"]
        elif not ref:
            raise _bad("FIELD_REQUIRED", f"participant[{i}].actor", "An actor is required.")
    problems = []
    if doctor is None:
        problems.append(Violation("FIELD_REQUIRED", "participant", "Name a Practitioner."))
    if patient is None:
        problems.append(Violation("FIELD_REQUIRED", "participant", "Name a Patient."))
    if problems:
        raise validation_failed(problems)
    return {
        "doctor_id": doctor,
        "starts_at": resource.start.isoformat(),
        "ends_at": resource.end.isoformat(),
        "patient_ref": patient,
        "status": resource.status,
    }


@router.post(
    "/Appointment",
    status_code=202,
    response_class=Fhir,
    summary="Book an Appointment asynchronously (Prefer: respond-async)",
    description=(
        "202 with `Content-Location` of a status endpoint; the booking is a `book_appointment` "
        "job. " + roles_note("submitter")
    ),
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
)
def create_appointment(
    resource: AppointmentIn,
    who: Annotated[Principal, Depends(BOOK)],
    settings: Annotated[Settings, Depends(current_settings)],
    prefer: Annotated[str | None, Header(max_length=200)] = None,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=100, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> Fhir:
    job = JobIn(kind="book_appointment", payload=_booking(resource))
    check_job(who, job, "", None)
    request = JobRequest(job.kind, job.payload, namespaced_key(who, idempotency_key))
    view = record(settings, who, [request], "POST /fhir/r4/Appointment")[0]
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": "accepted"}],
    }
    headers = {"Content-Location": f"/fhir/r4/_async/{view.id}"}
    if prefer and "respond-async" in prefer:
        headers["Preference-Applied"] = "respond-async"
    # Booking is a job, so the answer is asynchronous whatever was preferred.
    return Fhir(outcome, status_code=202, headers=headers)


@router.get(
    "/_async/{job_id}",
    response_class=Fhir,
    summary="Status of an asynchronous request",
    description=(
        "202 while the job runs; 200 with a batch-response Bundle holding the Appointment when "
        "booked; 4xx/5xx with an OperationOutcome (schedq's code in `details`) when refused. "
        + roles_note("submitter", "reader", "operator")
    ),
    responses={
        202: {"description": "In progress"},
        **problem_responses(401, 403, 404, 409, 422, 500, 503),
    },
)
def async_status(
    job_id: Annotated[str, Path(max_length=64)],
    who: Annotated[Principal, Depends(READ)],
) -> Response:
    view = job_queries.get_job(who, job_id)
    if view.status in ("queued", "running"):
        return Response(status_code=202, headers={"X-Progress": view.status, "Retry-After": "1"})
    if view.status == "succeeded" and view.result:
        result = view.result
        with UnitOfWork() as uow:
            row = uow.session.get(Appointment, uuid.UUID(result["appointment_id"]))
            if row is None:
                raise not_found("appointment", result["appointment_id"])
            location = f"Appointment/{row.id}"
            booked = resources.appointment(
                str(row.id),
                row.doctor_id,
                row.status,
                row.starts_at,
                row.ends_at,
                row.patient_ref,
            )
        bundle = {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {
                    "resource": booked,
                    "response": {"status": "201 Created", "location": location},
                }
            ],
        }
        return Fhir(bundle)
    error = view.error or {}
    code = error.get("code") or "INTERNAL_ERROR"
    category = error.get("category") or "SYSTEM"
    status = 500 if view.status == "dead" else status_for(code, category)
    outcome = outcome_of(
        code, category, error.get("message") or "", error.get("details") or {}, status
    )
    return Fhir(outcome, status_code=status)
