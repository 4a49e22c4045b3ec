"""Retries, attempt history, dead letters and the DLQ CLI against a real worker."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from producers.client import Client
from schedq.cli.main import app as cli
from shared.db.jobs import AuditEntry, Job
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from shared.ledger.publish import producer_app
from shared.settings import get_settings
from tests import probe_kinds
from tests.workers import WorkerProcess

probe_kinds.install()
runner = CliRunner()


def audits(job_id: str) -> int:
    with UnitOfWork() as uow:
        stmt = select(func.count()).where(AuditEntry.job_id == uuid.UUID(job_id))
        return int(uow.session.scalar(stmt) or 0)


def test_transient_failures_retry_with_history_then_succeed(
    worker: WorkerProcess, uid: str
) -> None:
    client = Client()
    view = client.submit(
        "test_touch", {"doctor_id": f"r-{uid}", "fail_with": "network", "fail_times": 2}
    )
    final = client.wait(view.id, timeout=30)
    assert final.status == "succeeded", worker.log()
    assert final.attempts == 3
    assert final.error is None  # earlier errors live in the history only
    assert [(h["attempt"], h["outcome"], h["error_code"]) for h in final.history] == [
        (1, "retry", "NETWORK_ERROR"),
        (2, "retry", "NETWORK_ERROR"),
    ]
    assert all(h["next_attempt_at"] for h in final.history)
    assert audits(view.id) == 1


def test_permanent_failure_is_rejected_without_retry(worker: WorkerProcess, uid: str) -> None:
    client = Client()
    view = client.submit("test_touch", {"doctor_id": f"p-{uid}", "fail_with": "http403"})
    final = client.wait(view.id, timeout=30)
    assert final.status == "rejected"
    assert final.error is not None and final.error["category"] == "AUTHORIZATION"
    assert [(h["attempt"], h["outcome"]) for h in final.history] == [(1, "rejected")]
    assert audits(view.id) == 0


def dead_letter_notices() -> list[dict[str, Any]]:
    settings = get_settings()
    app = producer_app(settings)
    notices: list[dict[str, Any]] = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.amqp.queues[settings.dead_letter_queue])
        held = []
        while True:
            try:
                message = queue.get(timeout=1)
            except queue.Empty:
                break
            notices.append(dict(message.headers))
            held.append(message)
        for message in held:
            message.requeue()
        queue.close()
    return notices


def test_unexpected_error_is_dead_lettered_then_replayed_once(
    worker: WorkerProcess, uid: str
) -> None:
    client = Client()
    view = client.submit("test_touch", {"doctor_id": f"u-{uid}", "fail_with": "unexpected"})
    final = client.wait(view.id, timeout=30)
    assert final.status == "dead", worker.log()
    assert final.error is not None and final.error["code"] == "UNEXPECTED_ERROR"
    assert "bug" not in final.error["message"]  # the exception text stays in the worker log
    with UnitOfWork() as uow:
        letter = uow.session.scalars(
            select(DeadLetter).where(DeadLetter.job_id == uuid.UUID(view.id))
        ).one()
        assert letter.error_code == "UNEXPECTED_ERROR" and letter.history[-1]["outcome"] == "dead"
    # The parked notice is on the dead_letter queue (nothing consumes it): read it there, on
    # either broker, and put the others back.
    notice = next(n for n in dead_letter_notices() if view.id in n["argsrepr"])
    # Its own task id: reusing the job's would make Flower file it under the job's task.
    assert notice["id"] != view.id and notice["task"] == "schedq.dead_letter"

    listed = runner.invoke(cli, ["dlq", "list", "--kind", "test_touch", "--json"])
    assert listed.exit_code == 0, listed.output
    assert view.id in [row["job_id"] for row in json.loads(listed.output)]
    shown = json.loads(runner.invoke(cli, ["dlq", "show", view.id, "--json"]).output)
    assert shown["payload"]["fail_with"] == "unexpected"

    first = json.loads(runner.invoke(cli, ["dlq", "replay", view.id, "--json"]).output)
    again = json.loads(runner.invoke(cli, ["dlq", "replay", view.id, "--json"]).output)
    assert first[0]["outcome"] == "replayed"
    assert again[0]["outcome"] == "already_replayed"
    assert again[0]["new_job_id"] == first[0]["new_job_id"]
    with UnitOfWork() as uow:
        replays = uow.session.scalars(select(Job).where(Job.replay_of == uuid.UUID(view.id))).all()
        assert len(replays) == 1
    # The replay fails the same way (the bug is still there) and gets its own dead letter.
    assert client.wait(first[0]["new_job_id"], timeout=30).status == "dead"


def test_replaying_a_job_that_since_succeeded_does_nothing(worker: WorkerProcess, uid: str) -> None:
    client = Client()
    view = client.submit("test_touch", {"doctor_id": f"s-{uid}", "fail_with": "unexpected"})
    assert client.wait(view.id, timeout=30).status == "dead"
    with UnitOfWork() as uow:  # as if an operator fixed it by hand and marked it done
        job = uow.session.get(Job, uuid.UUID(view.id))
        assert job is not None
        job.status = "succeeded"
        uow.commit()
    out = runner.invoke(
        cli, ["dlq", "replay", "--all-matching", "kind=test_touch,code=UNEXPECTED_ERROR"]
    )
    assert out.exit_code == 0, out.output
    assert f"(job {view.id}): already_succeeded" in out.output
    with UnitOfWork() as uow:
        assert not uow.session.scalars(select(Job).where(Job.replay_of == uuid.UUID(view.id))).all()
