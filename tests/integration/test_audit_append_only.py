"""The audit log refuses UPDATE, DELETE and TRUNCATE (trigger from migration 0001)."""

from __future__ import annotations

import psycopg
import pytest

from tests.domain_support import apply, plan_payload


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone else' WHERE entity_id LIKE %(like)s",
        "DELETE FROM audit_log WHERE entity_id LIKE %(like)s",
        "TRUNCATE audit_log",
    ],
)
def test_audit_rows_cannot_be_rewritten(
    database_url: str, redis_url: str, uid: str, statement: str
) -> None:
    view = apply("set_working_plan", plan_payload(f"audit-{uid}"))
    assert view.status == "succeeded"
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement, {"like": f"audit-{uid}%"})
        conn.rollback()
        rows = conn.execute(
            "SELECT job_id::text, correlation_id, actor, entity, before, after FROM audit_log "
            "WHERE entity_id LIKE %s",
            (f"audit-{uid}%",),
        ).fetchall()
    assert len(rows) == 1
    job_id, correlation, actor, entity, before, after = rows[0]
    assert (job_id, correlation, actor, entity) == (
        view.id,
        view.correlation_id,
        "tests",
        "working_plan",
    )
    assert before is None and after["slot_minutes"] == 15
