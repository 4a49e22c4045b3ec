"""The producer client: record a job in the ledger, then publish ``{job_id}`` after commit.

``submit`` / ``submit_many`` / ``get_job`` are what upstream systems call. The ledger row is
committed before anything reaches the broker, so an accepted job (it has an id) survives a
crash between the two: the reconciler republishes jobs still queued after a threshold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel
from sqlalchemy import select

from producers.engine import connection
from shared.availability_cache import AvailabilityCache
from shared.broker import Envelope, producer_app, publish
from shared.db.ledger import TERMINAL_STATUSES, Job
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, idempotency_conflict, not_found
from shared.jobs import get_kind
from shared.payloads import parse_payload, schema_error
from shared.settings import Settings, get_settings

log = logging.getLogger("schedq.producer")


@dataclass(frozen=True)
class JobRequest:
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str | None = None
    correlation_id: str | None = None


class JobView(BaseModel):
    """What a producer can read about a job, now or later."""

    id: str
    kind: str
    status: str
    attempts: int
    correlation_id: str
    submitter: str
    created_at: str
    finished_at: str | None
    error: dict[str, Any] | None
    result: dict[str, Any] | None
    # Every attempt that did not succeed: attempt, at, outcome, error code/category, next try.
    history: list[dict[str, Any]] = []

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _canonical(kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """The payload as canonical JSON (sorted keys, no spaces) and the hash of kind + payload.

    The hash text ``{"kind":...,"payload":...}`` embeds the payload's canonical JSON unchanged
    ("kind" sorts before "payload"), so one serialisation serves the hash and the stored row.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    hashed = f'{{"kind":{json.dumps(kind)},"payload":{text}}}'
    return text, hashlib.sha256(hashed.encode()).hexdigest()


def payload_hash(kind: str, payload: Mapping[str, Any]) -> str:
    return _canonical(kind, payload)[1]


def _view(job: Job) -> JobView:
    error = None
    if job.error_code:
        error = {
            "code": job.error_code,
            "category": job.error_category,
            "severity": job.error_severity,
            "message": job.error_message,
            "details": job.error_details or {},
        }
    return JobView(
        id=str(job.id),
        kind=job.kind,
        status=job.status,
        attempts=job.attempts,
        correlation_id=job.correlation_id,
        submitter=job.submitter,
        created_at=job.created_at.isoformat(),
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
        error=error,
        result=job.result,
    )


# The columns a producer fills in; the rest are the table's defaults.
_COLUMNS = (
    "id",
    "kind",
    "queue",
    "doctor_id",
    "payload",
    "payload_hash",
    "idempotency_key",
    "correlation_id",
    "submitter",
)
# A batch, whatever its size, is one statement with one array per column: its text never
# changes, so it is parsed once (psycopg caches it, PostgreSQL prepares it), where a multi-row
# VALUES list is a new statement of 9 parameters per row every time. The payloads, canonical
# JSON (what was hashed), travel as one JSON array: no array-literal escaping of their quotes.
# Rows are inserted in list order (ORDER BY the ordinality): ``seq`` follows submission order.
_INSERT_MANY = """
    INSERT INTO jobs (id, kind, queue, doctor_id, payload, payload_hash, idempotency_key,
                      correlation_id, submitter)
    SELECT id, kind, queue, doctor_id, payload, payload_hash, idempotency_key, correlation_id,
           submitter
    FROM ROWS FROM (
        unnest(CAST(%(id)s AS uuid[])),
        unnest(CAST(%(kind)s AS text[])),
        unnest(CAST(%(queue)s AS text[])),
        unnest(CAST(%(doctor_id)s AS text[])),
        jsonb_array_elements(CAST(%(payload)s AS jsonb)),
        unnest(CAST(%(payload_hash)s AS text[])),
        unnest(CAST(%(idempotency_key)s AS text[])),
        unnest(CAST(%(correlation_id)s AS text[])),
        unnest(CAST(%(submitter)s AS text[]))
    ) WITH ORDINALITY AS r(id, kind, queue, doctor_id, payload, payload_hash, idempotency_key,
                           correlation_id, submitter, n)
    ORDER BY n
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
"""
# One job: the same with plain parameters (arrays of one cost more to send than they save).
_INSERT_ONE = """
    INSERT INTO jobs (id, kind, queue, doctor_id, payload, payload_hash, idempotency_key,
                      correlation_id, submitter)
    VALUES (%(id)s, %(kind)s, %(queue)s, %(doctor_id)s, CAST(%(payload)s AS jsonb),
            %(payload_hash)s, %(idempotency_key)s, %(correlation_id)s, %(submitter)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
"""
_SELECT_BY_KEY = f"""
    SELECT {", ".join(c.name for c in Job.__table__.columns)}
    FROM jobs WHERE idempotency_key = %s
"""


class Client:
    def __init__(self, settings: Settings | None = None, submitter: str = "api") -> None:
        self.settings = settings or get_settings()
        self.submitter = submitter[:100]
        self._app = producer_app(self.settings)
        self._cache: AvailabilityCache | None = None

    def _row(self, req: JobRequest) -> dict[str, Any]:
        """The ledger row for one request, payload as an object (tests insert such rows)."""
        row = self._prepare(req)
        row["payload"] = json.loads(row["payload"])
        return row

    def _prepare(self, req: JobRequest) -> dict[str, Any]:
        """The ledger row for one request, payload as the canonical JSON text that was hashed.

        Raises VALIDATION_FAILED / UNKNOWN_JOB_KIND before anything is written.
        """
        kind = get_kind(req.kind)
        if not isinstance(req.payload, Mapping):
            raise schema_error("The payload must be a JSON object.")
        parsed = parse_payload(kind.payload, dict(req.payload))
        # Store what the sender sent (normalised by the shape model), so replays see the same.
        payload_json, hashed = _canonical(kind.name, parsed.model_dump(mode="json"))
        return {
            "id": uuid.uuid4(),
            "kind": kind.name,
            "queue": kind.queue(self.settings),
            "doctor_id": kind.order_key(parsed),
            "payload": payload_json,
            "payload_hash": hashed,
            "idempotency_key": req.idempotency_key,
            "correlation_id": (req.correlation_id or uuid.uuid4().hex)[:100],
            "submitter": self.submitter,
        }

    def submit(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> JobView:
        return self.submit_many([JobRequest(kind, payload, idempotency_key, correlation_id)])[0]

    def submit_many(self, requests: Iterable[JobRequest]) -> list[JobView]:
        """All requests in one transaction, then one publish over one connection.

        Shape errors raise before anything is written (the caller still holds its input).
        A reused idempotency key returns the existing job when the payload matches and raises
        IDEMPOTENCY_CONFLICT when it does not.
        """
        rows = [self._prepare(r) for r in requests]
        if not rows:
            return []
        views: list[JobView] = []
        envelopes: list[Envelope] = []
        with connection(self.settings.database_url) as conn:
            # One job is one INSERT that commits itself (autocommit: a durable commit in one
            # round trip, not BEGIN, INSERT, COMMIT); a batch is one transaction, so an
            # idempotency conflict anywhere in it writes nothing.
            transaction: AbstractContextManager[Any]
            if len(rows) == 1:
                statement, params, transaction = _INSERT_ONE, rows[0], nullcontext()
            else:
                params = {name: [row[name] for row in rows] for name in _COLUMNS}
                params["payload"] = f"[{','.join(params['payload'])}]"
                statement, transaction = _INSERT_MANY, conn.transaction()
            with transaction:
                created: dict[uuid.UUID, datetime] = dict(
                    conn.execute(statement, params).fetchall()
                )
                for row in rows:
                    at = created.get(row["id"])
                    if at is None:
                        views.append(_view(self._existing(conn, row)))
                        continue
                    views.append(self._fresh_view(row, at))
                    envelopes.append(
                        Envelope(
                            str(row["id"]),
                            get_kind(row["kind"]).task_name,
                            row["queue"],
                            row["correlation_id"],
                        )
                    )
        # Committed: only now may anything reach the broker.
        if envelopes:
            self._publish(envelopes)
        return views

    def _fresh_view(self, row: dict[str, Any], created_at: datetime) -> JobView:
        # Built from what was just inserted (the defaults are the table's), not read back.
        return JobView.model_construct(
            id=str(row["id"]),
            kind=row["kind"],
            status="queued",
            attempts=0,
            correlation_id=row["correlation_id"],
            submitter=row["submitter"],
            created_at=created_at.isoformat(),
            finished_at=None,
            error=None,
            result=None,
            history=[],
        )

    def _publish(self, envelopes: list[Envelope]) -> None:
        # The jobs are accepted once committed: a broker outage must not turn that into an
        # error for the caller. They stay queued in the ledger; the reconciler resends them.
        try:
            publish(self._app, envelopes)
        except Exception:
            log.warning("%d accepted job(s) not published yet; the reconciler will", len(envelopes))
            return
        for env in envelopes:
            log.info(
                "job accepted",
                extra={
                    "job_id": env.job_id,
                    "correlation_id": env.correlation_id,
                    "task_name": env.task_name,
                },
            )

    @staticmethod
    def _existing(conn: psycopg.Connection[Any], row: dict[str, Any]) -> Job:
        key = row["idempotency_key"]
        found = conn.cursor(row_factory=dict_row).execute(_SELECT_BY_KEY, [key]).fetchone()
        assert found is not None  # the conflict was on this key: the row exists
        if found["payload_hash"] != row["payload_hash"]:
            raise idempotency_conflict(key)
        return Job(**found)

    def get_job(self, job_id: str | uuid.UUID) -> JobView:
        try:
            ident = uuid.UUID(str(job_id))
        except ValueError:
            raise not_found("job", str(job_id)) from None
        with UnitOfWork() as uow:
            job = uow.session.get(Job, ident)
            if job is None:
                raise not_found("job", str(job_id))
            attempts = uow.session.scalars(
                select(JobAttempt).where(JobAttempt.job_id == ident).order_by(JobAttempt.id)
            )
            return _view(job).model_copy(update={"history": [a.as_dict() for a in attempts]})

    def availability(
        self, doctor_id: str, start: date | datetime, end: date | datetime
    ) -> dict[str, Any]:
        """Free slots with remaining capacity (cached by schedule version; never stale)."""
        from shared.availability import get_availability

        if self._cache is None:
            self._cache = AvailabilityCache(self.settings.broker_url)
        return get_availability(self._cache, doctor_id, start, end)

    def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.1) -> JobView:
        """Poll the ledger until the job is terminal (succeeded, rejected or dead)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get_job(job_id)
            if view.terminal or time.monotonic() >= deadline:
                return view
            time.sleep(poll)


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
    "submit",
    "submit_many",
]
