"""The task adapter turns a delivery's ``Decision`` into Celery terms (worker/pipeline/task.py).

The task body runs in this process through Celery's own ``Task.apply`` (its request context,
``Ignore`` and failure handling), against the real ledger on PostgreSQL. ``apply`` sends
nothing to a broker, so only the outcomes that need none are here: success, rejected and dead
(``JobFailed``), a finished job delivered again (``Ignore``) and a message naming no job (a
poison record). Retries and waits publish: tests/e2e/test_reliability.py runs them in real
workers.
"""

from __future__ import annotations

import uuid

import pytest
from celery import Celery, Task, states
from sqlalchemy import select

from producers.client import Client, JobRequest
from shared.db.reliability import PoisonMessage
from shared.db.uow import UnitOfWork
from shared.kinds import KINDS
from tests import probe_kinds
from tests.domain_support import record
from worker.pipeline.task import JobFailed, register_job_task

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


@pytest.fixture(scope="module")
def touch_task() -> Task:
    """The adapter's task for the probe kind, in an app of its own (no worker, no broker use)."""
    app = Celery("schedq-adapter-test", set_as_current=False)
    return register_job_task(app, KINDS["test_touch"])


def _job(uid: str, **payload: object) -> str:
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"ta-{uid}", **payload})])
    return view.id


def _poison_rows(message_id: str) -> list[tuple[str, str | None]]:
    with UnitOfWork() as uow:
        stmt = select(PoisonMessage).where(PoisonMessage.message_id == message_id)
        return [(row.code, row.task_name) for row in uow.session.scalars(stmt)]


def test_a_success_is_a_successful_task(touch_task: Task, uid: str) -> None:
    job = _job(uid)
    result = touch_task.apply(args=[job])
    assert result.state == states.SUCCESS
    assert Client().get_job(job).status == "succeeded"
    assert _poison_rows(job) == []


@pytest.mark.parametrize(
    ("fail_with", "summary"),
    [("http403", "rejected CALENDAR_FORBIDDEN"), ("unexpected", "dead UNEXPECTED_ERROR")],
)
def test_a_rejected_or_dead_job_fails_the_task_with_status_and_code_only(
    touch_task: Task, uid: str, fail_with: str, summary: str
) -> None:
    job = _job(uid, fail_with=fail_with)
    result = touch_task.apply(args=[job])
    assert result.state == states.FAILURE
    assert isinstance(result.result, JobFailed)
    assert str(result.result) == summary
    assert Client().get_job(job).status == summary.split()[0]


def test_a_finished_job_delivered_again_is_ignored_without_a_poison_record(
    touch_task: Task, uid: str
) -> None:
    job = _job(uid)
    assert touch_task.apply(args=[job]).state == states.SUCCESS
    again = touch_task.apply(args=[job])
    assert again.state == states.IGNORED
    assert _poison_rows(job) == []


def test_a_message_naming_no_job_is_recorded_as_poison(touch_task: Task) -> None:
    ghost = str(uuid.uuid4())
    result = touch_task.apply(args=[ghost])
    # Dropped (the task ends normally, so the message is acked), and recorded once.
    assert result.state == states.SUCCESS
    assert _poison_rows(ghost) == [("UNKNOWN_JOB", touch_task.name)]
