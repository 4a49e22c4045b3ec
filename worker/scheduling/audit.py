"""Append-only audit rows: who changed what, for which job and correlation id."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from shared.db.uow import UnitOfWork
from worker.pipeline.context import JobContext

# Plain SQL: every applied job writes at least one row (see UnitOfWork.sql for why). ``at`` is
# the wall clock when the change is made (clock_timestamp()), not the transaction's start
# (now()), which precedes any wait for the doctor's lock.
_INSERT = """
INSERT INTO audit_log (at, job_id, correlation_id, actor, entity, entity_id, action, before,
                       after)
VALUES (clock_timestamp(), %(job_id)s, %(correlation_id)s, %(actor)s, %(entity)s, %(entity_id)s,
        %(action)s, %(before)s, %(after)s)
"""


def _json(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def record(
    uow: UnitOfWork,
    ctx: JobContext,
    *,
    entity: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    uow.sql(
        _INSERT,
        {
            "job_id": ctx.job_id,
            "correlation_id": ctx.correlation_id,
            "actor": ctx.submitter,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "before": _json(before),
            "after": _json(after),
        },
    )
