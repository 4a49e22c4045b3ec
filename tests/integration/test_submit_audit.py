"""``submit_jobs(..., audit_after=...)``: each created job and its audit row commit together."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from shared.db.jobs import AuditEntry
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.ledger.submit import JobRequest, submit_jobs
from shared.settings import get_settings
from tests.gateway_support import count_rows, working_plan


def _audit_rows(actor: str) -> list[tuple[uuid.UUID | None, str, dict[str, object] | None]]:
    with UnitOfWork() as uow:
        rows = uow.session.execute(
            select(AuditEntry.job_id, AuditEntry.action, AuditEntry.after)
            # Only the submit's rows: a worker left running by another test may apply the job
            # and write its own audit rows under the same actor (the job's submitter).
            .where(AuditEntry.actor == actor, AuditEntry.action == "accepted")
            .order_by(AuditEntry.id)
        )
        return [(j, a, after) for j, a, after in rows]


def test_each_created_job_has_its_audit_row_and_repeats_add_none(
    database_url: str, redis_url: str, uid: str
) -> None:
    settings, who = get_settings(), f"api-{uid}"
    after = {"via": "api", "route": "POST /v1/jobs"}
    one = JobRequest("set_working_plan", working_plan(f"a-{uid}"), f"k-{uid}")
    first = submit_jobs(settings, who, [one], audit_after=after)
    again = submit_jobs(settings, who, [one], audit_after=after)
    assert first[0].id == again[0].id
    batch = [JobRequest("set_working_plan", working_plan(f"b{i}-{uid}")) for i in range(3)]
    views = submit_jobs(settings, who, batch, audit_after=after)
    rows = _audit_rows(who)
    assert [str(j) for j, _, _ in rows] == [first[0].id, *[v.id for v in views]]
    assert {(a, str(x)) for _, a, x in rows} == {("accepted", str(after))}
    # Without audit_after (the Python client), no row.
    submit_jobs(settings, f"py-{uid}", [JobRequest("set_working_plan", working_plan(f"c-{uid}"))])
    assert _audit_rows(f"py-{uid}") == []


def test_a_batch_refused_by_a_conflict_writes_no_job_and_no_audit_row(
    database_url: str, redis_url: str, uid: str
) -> None:
    settings, who = get_settings(), f"api-{uid}"
    first = JobRequest("set_working_plan", working_plan(f"x-{uid}"), f"k-{uid}")
    submit_jobs(settings, who, [first], audit_after={"via": "api"})
    clash = [
        JobRequest("set_working_plan", working_plan(f"y-{uid}")),
        JobRequest("set_working_plan", working_plan(f"z-{uid}"), f"k-{uid}"),
    ]
    with pytest.raises(SchedqError) as refused:
        submit_jobs(settings, who, clash, audit_after={"via": "api"})
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"
    assert len(_audit_rows(who)) == 1
    assert count_rows("jobs", "payload->>'doctor_id'", f"y-{uid}") == 0
