"""Policy faults: idempotency under concurrency, unsafe delays refused at startup, retries."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from schedq.processes import celery_worker_args, spawn
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from tests.conftest import REDIS_URL
from tests.faults.conftest import FaultRig, audit, environment, wait_terminal

pytestmark = pytest.mark.faults


def test_twenty_concurrent_submissions_with_one_key_give_one_job_and_one_effect(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    rig.worker("idem", concurrency=2)
    payload = {"doctor_id": f"id{uid}-0"}

    def submit(_: int) -> str:
        return rig.client().submit("test_touch", payload, idempotency_key=f"key-{uid}").id

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(submit, range(20)))
    with pytest.raises(SchedqError) as conflict:
        rig.client().submit("test_touch", {"doctor_id": "other"}, idempotency_key=f"key-{uid}")
    wait_terminal(ids[:1], timeout=30)
    figures = audit(ids[:1], f"id{uid}")
    report.update(asdict(figures), submissions=20, distinct_job_ids=len(set(ids)))
    assert len(set(ids)) == 1
    assert conflict.value.code == "IDEMPOTENCY_CONFLICT"
    assert figures.succeeded == 1 and figures.duplicates == 0 and figures.schedule_mismatches == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SCHEDQ_RETRY_BACKOFF_CAP", "700"), ("SCHEDQ_RECONCILE_AFTER_SECONDS", "900")],
)
def test_a_delay_longer_than_the_visibility_timeout_is_refused_at_startup(
    rig: FaultRig, variable: str, value: str, report: dict[str, Any]
) -> None:
    log = rig.log_dir / f"unsafe-{variable}.log"
    # The visibility timeout is Redis's (on RabbitMQ countdowns wait in the broker): the rule
    # is checked with a Redis broker URL on either test broker (the worker exits before it
    # connects).
    env = {variable: value, "SCHEDQ_BROKER_URL": REDIS_URL}
    proc = spawn(celery_worker_args("schedule", 1, f"unsafe-{uuid.uuid4().hex[:6]}"), env, log)
    code = proc.wait(60)
    text = log.read_text(errors="replace")
    report.update(variable=variable, value=value, exit_code=code)
    assert code != 0
    assert f"{variable} ({value}s) must be below SCHEDQ_VISIBILITY_TIMEOUT (600s)" in text


def test_transient_errors_retry_within_the_cap_and_stop_at_the_limit(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_MAX_RETRIES": "3", "SCHEDQ_RETRY_LIMITS": '{"EXTERNAL_SERVICE": 1}'}):
        rig.worker("retry", concurrency=2)
    client = rig.client()
    cap = rig.settings.retry_backoff_cap
    jobs = {
        name: client.submit("test_touch", {"doctor_id": f"rt{uid}-{name}", "fail_with": name}).id
        for name in ("network", "http503", "http429", "http403")
    }
    final = {n: client.wait(j, timeout=60) for n, j in jobs.items()}
    delays = []
    for view in final.values():
        for h in view.history:
            if h["outcome"] == "retry":
                at, nxt = (
                    datetime.fromisoformat(h["at"]),
                    datetime.fromisoformat(h["next_attempt_at"]),
                )
                delays.append((nxt - at).total_seconds())
    outcomes = {n: [h["outcome"] for h in v.history] for n, v in final.items()}
    report.update(
        outcomes={n: v.status for n, v in final.items()},
        attempts={n: v.attempts for n, v in final.items()},
        min_delay=round(min(delays), 3),
        max_delay=round(max(delays), 3),
        cap=cap,
    )
    assert all(-0.05 <= d <= cap + 0.05 for d in delays)  # clock skew between the two stamps
    assert outcomes["network"] == ["retry", "retry", "retry", "dead"]  # SCHEDQ_MAX_RETRIES=3
    assert final["network"].error is not None
    assert final["network"].error["code"] == "RETRIES_EXHAUSTED"
    assert outcomes["http503"] == ["retry", "dead"]  # EXTERNAL_SERVICE limited to 1
    assert outcomes["http429"] == ["retry", "dead"]
    assert outcomes["http403"] == ["rejected"]  # permanent: never retried
    assert final["http403"].status == "rejected" and final["http403"].attempts == 1
    # Retry-After: 1 was honoured (the random backoff alone could be shorter).
    retry_429 = final["http429"].history[0]
    wait = datetime.fromisoformat(retry_429["next_attempt_at"]) - datetime.fromisoformat(
        retry_429["at"]
    )
    assert wait.total_seconds() >= 0.95
    with UnitOfWork() as uow:
        dead = uow.session.scalars(
            select(Job.id).where(
                Job.id.in_([uuid.UUID(j) for j in jobs.values()]), Job.status == "dead"
            )
        ).all()
    assert len(dead) == 3
