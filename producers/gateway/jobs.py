"""``/v1/jobs``: submit one job or a batch, read one job, list jobs.

Jobs are recorded through the ledger (``shared.ledger.submit.submit_jobs``) with the calling
client as submitter; the request cannot name another. An ``Idempotency-Key`` is namespaced by
client, so two clients' keys never meet. Each job created is audited (``audit_log``, actor = the
client, action ``accepted``) in the statement that records it, so the two commit together.
Every violation of a job's shape is reported at once, with the ledger's codes and paths
relative to the request body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from producers.gateway import job_queries
from producers.gateway.auth import allow, current_settings, out_of_scope, roles_note
from producers.gateway.clients import Principal
from producers.gateway.problems import problem_responses
from producers.gateway.ratelimit import check_rate
from shared.errors import SchedqError, Violation, error, validation_failed
from shared.kinds import get_kind
from shared.ledger.submit import JobRequest, JobView, submit_jobs
from shared.payloads import parse_payload
from shared.settings import Settings

router = APIRouter(prefix="/v1", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Same key and body: the same job. Same key, another body: 409.",
    ),
]
SUBMIT = allow("submitter")
READ = allow("submitter", "reader", "operator")


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64, examples=["set_working_plan"])
    payload: dict[str, Any]
    correlation_id: str | None = Field(None, min_length=1, max_length=100)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobIn] = Field(min_length=1, max_length=10_000)


class BatchOut(BaseModel):
    jobs: list[JobView]


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None


def _doctors_of(kind: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(doctor id, its path) for every doctor a job names."""
    parsed = parse_payload(get_kind(kind).payload, payload)
    single = getattr(parsed, "doctor_id", None)
    if isinstance(single, str):
        return [(single, "payload.doctor_id")]
    many = getattr(parsed, "doctor_ids", None) or []
    return [(d, f"payload.doctor_ids[{i}]") for i, d in enumerate(many)]


def _scope_violations(who: Principal, job: JobIn, at: str) -> list[Violation]:
    """What puts this job outside the client's scope (raises if the job's shape is invalid)."""
    if not who.may_submit(job.kind):
        return [Violation("KIND_NOT_ALLOWED", f"{at}kind", "This job kind is outside your scope.")]
    if who.all_doctors:
        parse_payload(get_kind(job.kind).payload, job.payload)  # shape errors before any write
        return []
    doctors = _doctors_of(job.kind, job.payload)
    if not doctors:
        return [
            Violation("DOCTOR_NOT_ALLOWED", f"{at}payload", "Only clients for all doctors may.")
        ]
    return [
        Violation("DOCTOR_NOT_ALLOWED", f"{at}{path}", "This doctor is outside your scope.")
        for doctor, path in doctors
        if not who.covers_doctor(doctor)
    ]


def _prefixed(exc: SchedqError, at: str, index: int | None = None) -> SchedqError:
    """The ledger's error with its violation paths made relative to the request body."""
    violations = exc.details.get("violations")
    if violations is None:
        if index is not None:
            exc.details["index"] = index
        return exc
    moved = [
        Violation(
            v["code"], f"{at}payload" + ("" if v["path"] == "$" else f".{v['path']}"), v["message"]
        )
        for v in violations
    ]
    out = validation_failed(moved)
    if index is not None:
        out.details["index"] = index
    return out


def check_job(who: Principal, job: JobIn, at: str, index: int | None) -> None:
    """Raise the job's shape errors (422) or scope violations (403), paths under ``at``."""
    try:
        problems = _scope_violations(who, job, at)
    except SchedqError as exc:
        raise _prefixed(exc, at, index) from None
    if problems:
        err = error("FORBIDDEN_SCOPE", details={"violations": [p.as_dict() for p in problems]})
        if index is not None:
            err.details["index"] = index
        raise err


def namespaced_key(who: Principal, key: str | None, index: int | None = None) -> str | None:
    """A client's Idempotency-Key in the ledger: clients never share keys."""
    if key is None:
        return None
    return f"api:{who.name}:{key}" + ("" if index is None else f":{index}")


def record(
    settings: Settings, who: Principal, requests: list[JobRequest], route: str
) -> list[JobView]:
    """``submit_jobs`` as the client, each created job audited under its name in the same
    commit; a conflicting key is reported as the client sent it, with its batch index."""
    try:
        return submit_jobs(settings, who.name, requests, audit_after={"via": "api", "route": route})
    except SchedqError as exc:
        key = str(exc.details.get("idempotency_key", ""))
        if exc.code != "IDEMPOTENCY_CONFLICT" or not key.startswith(f"api:{who.name}:"):
            raise
        own = key.removeprefix(f"api:{who.name}:")
        if len(requests) > 1:
            own, _, index = own.rpartition(":")
            exc.details["index"] = int(index)
        exc.details["idempotency_key"] = own
        raise


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobView,
    summary="Submit a job",
    description="Records the job in the ledger and queues it. " + roles_note("submitter"),
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
)
def submit_job(
    job: JobIn,
    response: Response,
    who: Annotated[Principal, Depends(SUBMIT)],
    settings: Annotated[Settings, Depends(current_settings)],
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    check_job(who, job, "", None)
    request = JobRequest(
        job.kind, job.payload, namespaced_key(who, idempotency_key), job.correlation_id
    )
    view = record(settings, who, [request], "POST /v1/jobs")[0]
    response.headers["Location"] = f"/v1/jobs/{view.id}"
    return view


@router.post(
    "/jobs:batch",
    status_code=202,
    response_model=BatchOut,
    summary="Submit jobs all or nothing",
    description=(
        "Every job is checked first; one transaction records them all, or none. A problem "
        "names the first failing job's `index`. " + roles_note("submitter")
    ),
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
)
def submit_batch(
    batch: BatchIn,
    who: Annotated[Principal, Depends(SUBMIT)],
    settings: Annotated[Settings, Depends(current_settings)],
    idempotency_key: IdempotencyKey = None,
) -> BatchOut:
    if len(batch.jobs) > settings.api_batch_max:
        raise validation_failed(
            [
                Violation(
                    "TOO_MANY_ITEMS",
                    "jobs",
                    f"A batch holds at most {settings.api_batch_max} jobs.",
                )
            ]
        )
    for i, job in enumerate(batch.jobs):
        check_job(who, job, f"jobs[{i}].", i)
    if len(batch.jobs) > 1:
        check_rate(settings, who.name, cost=len(batch.jobs) - 1)
    requests = [
        JobRequest(j.kind, j.payload, namespaced_key(who, idempotency_key, i), j.correlation_id)
        for i, j in enumerate(batch.jobs)
    ]
    views = record(settings, who, requests, "POST /v1/jobs:batch")
    return BatchOut(jobs=views)


@router.get(
    "/jobs/{job_id}",
    response_model=JobView,
    summary="A job's status, outcome and attempts",
    description="A submitter sees its own jobs, a reader its doctors' jobs. "
    + roles_note("submitter", "reader", "operator"),
    responses=problem_responses(401, 403, 404, 429),
)
def read_job(
    job_id: Annotated[str, Path(max_length=64)],
    who: Annotated[Principal, Depends(READ)],
) -> JobView:
    return job_queries.get_job(who, job_id)


@router.get(
    "/jobs",
    response_model=JobPage,
    summary="List jobs, oldest first, a page at a time",
    description="Follow `next_cursor` for the next page. "
    + roles_note("submitter", "reader", "operator"),
    responses=problem_responses(401, 403, 422, 429),
)
def list_jobs(
    who: Annotated[Principal, Depends(READ)],
    settings: Annotated[Settings, Depends(current_settings)],
    status: Literal["queued", "running", "succeeded", "rejected", "dead"] | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    doctor: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="Capped by the server.")] = 50,
) -> JobPage:
    if doctor is not None and who.role == "reader" and not who.covers_doctor(doctor):
        raise out_of_scope("DOCTOR_NOT_ALLOWED", "doctor", "This doctor is outside your scope.")
    items, following = job_queries.list_jobs(
        who,
        status=status,
        kind=kind,
        doctor=doctor,
        since=since if isinstance(since, datetime) else None,
        cursor=cursor,
        limit=min(limit, settings.api_page_max),
    )
    return JobPage(items=items, next_cursor=following)
