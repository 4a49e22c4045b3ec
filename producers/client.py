"""The Python client: an operator tool that records jobs and reads their outcomes.

It holds database credentials (upstream systems use the HTTP gateway instead). Jobs are recorded
through the ledger (``shared.ledger.submit``): the row commits first, then ``{job_id}`` is
published. ``submit`` / ``submit_many`` / ``get_job`` / ``availability`` / ``wait``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from shared.availability_cache import AvailabilityCache
from shared.db.jobs import Job
from shared.db.problems import database_problem
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, error, not_found
from shared.ledger.submit import JobRequest, JobView, payload_hash, submit_jobs, view_of
from shared.settings import Settings, get_settings


class Client:
    def __init__(self, settings: Settings | None = None, submitter: str = "api") -> None:
        self.settings = settings or get_settings()
        self.submitter = submitter[:100]
        self._cache: AvailabilityCache | None = None

    def submit(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> JobView:
        return self.submit_many([JobRequest(kind, payload, idempotency_key, correlation_id)])[0]

    def submit_many(self, requests: Iterable[JobRequest]) -> list[JobView]:
        """All requests in one transaction, then one publish (``shared.ledger.submit``)."""
        with database_errors():
            return submit_jobs(self.settings, self.submitter, requests)

    def get_job(self, job_id: str | uuid.UUID) -> JobView:
        try:
            ident = uuid.UUID(str(job_id))
        except ValueError:
            raise not_found("job", str(job_id)) from None
        with database_errors(), UnitOfWork() as uow:
            job = uow.session.get(Job, ident)
            if job is None:
                raise not_found("job", str(job_id))
            attempts = uow.session.scalars(
                select(JobAttempt).where(JobAttempt.job_id == ident).order_by(JobAttempt.id)
            )
            return view_of(job).model_copy(update={"history": [a.as_dict() for a in attempts]})

    def availability(
        self, doctor_id: str, start: date | datetime, end: date | datetime
    ) -> dict[str, Any]:
        """Free slots with remaining capacity (cached by schedule version; never stale)."""
        from shared.availability import get_availability

        if self._cache is None:
            self._cache = AvailabilityCache(self.settings.state_redis_url)
        return get_availability(self._cache, doctor_id, start, end)

    def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.1) -> JobView:
        """Poll the ledger until the job is terminal (succeeded, rejected or dead)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get_job(job_id)
            if view.terminal or time.monotonic() >= deadline:
                return view
            time.sleep(poll)


@contextmanager
def database_errors() -> Iterator[None]:
    """Driver errors leave as catalogue errors: no host, port or SQL reaches the caller."""
    try:
        yield
    except (DBAPIError, psycopg.Error) as exc:
        raise (database_problem(exc) or error("DATABASE_ERROR")) from None


_default: Client | None = None


def _client() -> Client:
    global _default
    if _default is None:
        _default = Client()
    return _default


def submit(
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> JobView:
    return _client().submit(kind, payload, idempotency_key, correlation_id)


def submit_many(requests: Iterable[JobRequest]) -> list[JobView]:
    return _client().submit_many(requests)


def get_job(job_id: str | uuid.UUID) -> JobView:
    return _client().get_job(job_id)


def availability(doctor_id: str, start: date | datetime, end: date | datetime) -> dict[str, Any]:
    return _client().availability(doctor_id, start, end)


__all__ = [
    "Client",
    "JobRequest",
    "JobView",
    "SchedqError",
    "availability",
    "get_job",
    "payload_hash",
    "submit",
    "submit_many",
]
