"""Recording jobs in the ledger: validate, insert the rows, and publish their ids after commit.

Every way in (the Python client, the gateway, the calendar beat, a replay) records jobs through
:func:`submit_jobs`, so a job is accepted the same way whoever submits it. The ledger row is
committed before anything reaches the broker, so an accepted job (it has an id) survives a crash
between the two: the reconciler republishes jobs still queued after a threshold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from shared.db.jobs import TERMINAL_STATUSES, Job
from shared.errors import SchedqError, error, idempotency_conflict
from shared.kinds import get_kind
from shared.ledger.connection import connection
from shared.ledger.publish import Envelope, publish_committed
from shared.patient_data import SENSITIVE_FIELDS, seal_payload
from shared.payloads import parse_payload, schema_error
from shared.settings import Settings

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


def view_of(job: Job) -> JobView:
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
    "order_key",
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
    INSERT INTO jobs (id, kind, queue, order_key, payload, payload_hash, idempotency_key,
                      correlation_id, submitter)
    SELECT id, kind, queue, order_key, payload, payload_hash, idempotency_key, correlation_id,
           submitter
    FROM ROWS FROM (
        unnest(CAST(%(id)s AS uuid[])),
        unnest(CAST(%(kind)s AS text[])),
        unnest(CAST(%(queue)s AS text[])),
        unnest(CAST(%(order_key)s AS text[])),
        jsonb_array_elements(CAST(%(payload)s AS jsonb)),
        unnest(CAST(%(payload_hash)s AS text[])),
        unnest(CAST(%(idempotency_key)s AS text[])),
        unnest(CAST(%(correlation_id)s AS text[])),
        unnest(CAST(%(submitter)s AS text[]))
    ) WITH ORDINALITY AS r(id, kind, queue, order_key, payload, payload_hash, idempotency_key,
                           correlation_id, submitter, n)
    ORDER BY n
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
"""
# One job: the same with plain parameters (arrays of one cost more to send than they save).
_INSERT_ONE = """
    INSERT INTO jobs (id, kind, queue, order_key, payload, payload_hash, idempotency_key,
                      correlation_id, submitter)
    VALUES (%(id)s, %(kind)s, %(queue)s, %(order_key)s, CAST(%(payload)s AS jsonb),
            %(payload_hash)s, %(idempotency_key)s, %(correlation_id)s, %(submitter)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
"""
_SELECT_BY_KEY = f"""
    SELECT {", ".join(c.name for c in Job.__table__.columns)}
    FROM jobs WHERE idempotency_key = %s
"""


def prepare(settings: Settings, submitter: str, req: JobRequest) -> dict[str, Any]:
    """The ledger row for one request, payload as the canonical JSON text that was hashed.

    Raises VALIDATION_FAILED / UNKNOWN_JOB_KIND before anything is written.
    """
    kind = get_kind(req.kind)
    if not isinstance(req.payload, Mapping):
        raise schema_error("The payload must be a JSON object.")
    # Size first: parsing a 10 MB payload costs seconds and yields one violation per item.
    _check_size(settings, _raw_size(req.payload))
    parsed = parse_payload(kind.payload, dict(req.payload))
    # Store what the sender sent (normalised by the shape model), so replays see the same.
    normalised = parsed.model_dump(mode="json")
    payload_json, hashed = _canonical(kind.name, normalised)
    if kind.name in SENSITIVE_FIELDS:
        # Patient data is stored sealed; the hash (idempotency) is of what was sent.
        payload_json = json.dumps(
            seal_payload(kind.name, normalised), sort_keys=True, separators=(",", ":")
        )
    _check_size(settings, len(payload_json.encode()))
    return {
        "id": uuid.uuid4(),
        "kind": kind.name,
        "queue": kind.queue(settings),
        "order_key": kind.order_key(parsed),
        "payload": payload_json,
        "payload_hash": hashed,
        "idempotency_key": req.idempotency_key,
        "correlation_id": (req.correlation_id or uuid.uuid4().hex)[:100],
        "submitter": submitter[:100],
    }


def _raw_size(payload: Mapping[str, Any]) -> int:
    """The payload's size as compact JSON; 0 when it cannot be serialised (too deep, not JSON):
    the shape check then reports what is wrong with it."""
    try:
        return len(json.dumps(payload, separators=(",", ":")).encode())
    except (RecursionError, TypeError, ValueError):
        return 0


def _check_size(settings: Settings, size: int) -> None:
    if size > settings.max_payload_bytes:
        raise error(
            "PAYLOAD_TOO_LARGE",
            details={"limit_bytes": settings.max_payload_bytes, "size_bytes": size},
            limit_bytes=settings.max_payload_bytes,
        )


def _prepare_all(
    settings: Settings, submitter: str, requests: Iterable[JobRequest]
) -> list[dict[str, Any]]:
    """Every request's row, at most ``max_batch_jobs`` of them; an error names the index of
    the request that failed (``details.request_index``), and nothing is written."""
    rows: list[dict[str, Any]] = []
    for index, req in enumerate(requests):
        if index >= settings.max_batch_jobs:
            limit = settings.max_batch_jobs
            raise error(
                "BATCH_TOO_LARGE", details={"limit": limit, "request_index": index}, limit=limit
            )
        try:
            rows.append(prepare(settings, submitter, req))
        except SchedqError as exc:
            exc.details = {**exc.details, "request_index": index}
            raise
    return rows


def ledger_row(settings: Settings, submitter: str, req: JobRequest) -> dict[str, Any]:
    """The row :func:`submit_jobs` would insert, payload as an object (tests insert such rows
    themselves to stage states that no submit produces, such as a row the broker never saw)."""
    row = prepare(settings, submitter, req)
    row["payload"] = json.loads(row["payload"])
    return row


def submit_jobs(
    settings: Settings, submitter: str, requests: Iterable[JobRequest]
) -> list[JobView]:
    """All requests in one transaction, then one publish over one connection.

    Shape and size errors raise before anything is written (the caller still holds its input);
    ``details.request_index`` says which request failed.
    A reused idempotency key returns the existing job when the payload matches and raises
    IDEMPOTENCY_CONFLICT when it does not.
    """
    rows = _prepare_all(settings, submitter, requests)
    if not rows:
        return []
    views: list[JobView] = []
    envelopes: list[Envelope] = []
    with connection(settings.database_url) as conn:
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
            created: dict[uuid.UUID, datetime] = dict(conn.execute(statement, params).fetchall())
            for row in rows:
                at = created.get(row["id"])
                if at is None:
                    views.append(view_of(_existing(conn, row)))
                    continue
                views.append(_fresh_view(row, at))
                envelopes.append(
                    Envelope(
                        str(row["id"]),
                        get_kind(row["kind"]).task_name,
                        row["queue"],
                        row["correlation_id"],
                    )
                )
    # Committed: the jobs are accepted, and only now may anything reach the broker.
    for env in envelopes:
        log.info(
            "job accepted",
            extra={
                "job_id": env.job_id,
                "correlation_id": env.correlation_id,
                "task_name": env.task_name,
            },
        )
    publish_committed(settings, envelopes)
    return views


def _fresh_view(row: dict[str, Any], created_at: datetime) -> JobView:
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


def _existing(conn: psycopg.Connection[Any], row: dict[str, Any]) -> Job:
    key = row["idempotency_key"]
    found = conn.cursor(row_factory=dict_row).execute(_SELECT_BY_KEY, [key]).fetchone()
    assert found is not None  # the conflict was on this key: the row exists
    if found["payload_hash"] != row["payload_hash"]:
        raise idempotency_conflict(key)
    return Job(**found)
