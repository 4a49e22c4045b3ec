"""Reading jobs for API clients: one job, or a page of them, limited to what the caller may see.

A submitter sees the jobs it submitted; a reader the jobs of its doctors (by order key); an
operator or admin every job. A job outside the caller's view is "not found", so ids of other
clients' jobs cannot be probed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from producers.gateway.clients import Principal
from shared.db.jobs import Job
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, Violation, not_found, validation_failed
from shared.ledger.submit import JobView, view_of


def like_pattern(glob: str) -> str:
    """A doctor pattern (* and ? wildcards) as SQL LIKE, its other characters literal."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def visible(who: Principal, job: Job) -> bool:
    if who.role in ("operator", "admin"):
        return True
    if who.role == "reader":
        return job.order_key is not None and who.covers_doctor(job.order_key)
    return job.submitter == who.name


def get_job(who: Principal, job_id: str) -> JobView:
    try:
        ident = uuid.UUID(job_id)
    except ValueError:
        raise not_found("job", job_id) from None
    with UnitOfWork() as uow:
        job = uow.session.get(Job, ident)
        if job is None or not visible(who, job):
            raise not_found("job", job_id)
        attempts = uow.session.scalars(
            select(JobAttempt).where(JobAttempt.job_id == ident).order_by(JobAttempt.id)
        )
        return view_of(job).model_copy(update={"history": [a.as_dict() for a in attempts]})


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "seq" and number.isdigit() and int(number) < 2**63:  # a bigint
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _bad_cursor()


def _bad_cursor() -> SchedqError:
    return validation_failed(
        [Violation("CURSOR_INVALID", "cursor", "Use the next_cursor of an earlier page.")]
    )


def list_jobs(
    who: Principal,
    *,
    status: str | None,
    kind: str | None,
    doctor: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[JobView], str | None]:
    """One page in submission order, and the cursor of the next page (None on the last)."""
    query = select(Job)
    if who.role == "submitter":
        query = query.where(Job.submitter == who.name)
    elif who.role == "reader" and not who.all_doctors:
        clauses = [Job.order_key.like(like_pattern(p), escape="\\") for p in who.doctor_patterns]
        query = query.where(or_(*clauses))
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    if doctor:
        query = query.where(Job.order_key == doctor)
    if since is not None:
        query = query.where(Job.created_at >= since)
    if cursor:
        query = query.where(Job.seq > decode_cursor(cursor))
    query = query.order_by(Job.seq).limit(limit + 1)
    with UnitOfWork() as uow:
        rows: list[Any] = list(uow.session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        views = [view_of(j) for j in rows]
        return views, encode_cursor(rows[-1].seq) if more else None
