"""Append-only audit rows: who changed what, for which job and correlation id."""

from __future__ import annotations

from typing import Any

from shared.db.ledger import AuditEntry
from shared.db.uow import UnitOfWork
from worker.context import JobContext


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
    uow.session.add(
        AuditEntry(
            job_id=ctx.job_id,
            correlation_id=ctx.correlation_id,
            actor=ctx.submitter,
            entity=entity,
            entity_id=entity_id,
            action=action,
            before=before,
            after=after,
        )
    )
