"""Every outcome of one delivery, through the real executor in this process: succeeded, retry
(with backoff and attempt history), retries exhausted, rejected, dead, Retry-After. The ledger is
read back after each delivery; the probe kinds fail on demand (tests/probe_kinds.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from producers.client import Client, JobRequest, JobView
from shared.db.jobs import AuditEntry, Job
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.kinds import KINDS, JobKind, by_doctor
from shared.ledger import delivery as ledger_ops
from shared.settings import Settings, get_settings
from tests import probe_kinds
from tests.domain_support import record
from worker.pipeline.executor import run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def _settings(**changes: Any) -> Settings:
    return get_settings().model_copy(update=changes)


def _job(uid: str, **payload: Any) -> str:
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"eo-{uid}", **payload})])
    return view.id


def _deliver(job_id: str, settings: Settings) -> JobView:
    run_delivery(uuid.UUID(job_id), settings)
    return Client().get_job(job_id)


def _audits(job_id: str) -> int:
    with UnitOfWork() as uow:
        stmt = select(func.count()).where(AuditEntry.job_id == uuid.UUID(job_id))
        return int(uow.session.scalar(stmt) or 0)


def _letter(job_id: str) -> DeadLetter | None:
    with UnitOfWork() as uow:
        stmt = select(DeadLetter).where(DeadLetter.job_id == uuid.UUID(job_id))
        letter = uow.session.scalars(stmt).one_or_none()
        uow.session.expunge_all()
    return letter


def test_transient_failures_are_retried_with_history_then_succeed(uid: str) -> None:
    job = _job(uid, fail_with="network", fail_times=2)
    settings = _settings(retry_backoff_base=1.0, retry_backoff_cap=8.0)
    for attempt in (1, 2):
        before = datetime.now(UTC)
        view = _deliver(job, settings)
        assert (view.status, view.attempts) == ("queued", attempt)
        assert view.error is not None and view.error["code"] == "NETWORK_ERROR"
        last = view.history[-1]
        assert (last["attempt"], last["outcome"], last["error_code"]) == (
            attempt, "retry", "NETWORK_ERROR"
        )  # fmt: skip
        # Due within the attempt's ceiling: 1 s, then 2 s (base 1 s doubled).
        due = datetime.fromisoformat(last["next_attempt_at"])
        assert before <= due <= datetime.now(UTC) + timedelta(seconds=2 ** (attempt - 1))
        assert last["error_category"] == "NETWORK"
    final = _deliver(job, settings)
    assert (final.status, final.attempts, final.error) == ("succeeded", 3, None)
    assert final.result == {"schedule_version": 1, "attempt": 3}
    assert [h["outcome"] for h in final.history] == ["retry", "retry"]
    assert _audits(job) == 1


@pytest.mark.parametrize("limit", [0, 2])
def test_retries_end_at_the_category_limit_in_a_dead_letter(uid: str, limit: int) -> None:
    job = _job(uid, fail_with="http503")
    settings = _settings(retry_limits=(("EXTERNAL_SERVICE", limit),), max_retries=7)
    for attempt in range(1, limit + 1):
        assert _deliver(job, settings).status == "queued", attempt
    final = _deliver(job, settings)
    assert (final.status, final.attempts) == ("dead", limit + 1)
    assert final.error is not None
    assert final.error == {
        "code": "RETRIES_EXHAUSTED",
        "category": "EXTERNAL_SERVICE",
        "severity": "HIGH",
        "message": "The job kept failing for a temporary reason and was set aside for an operator.",
        "details": {"last_error": "CALENDAR_PROVIDER_ERROR"},
    }
    assert [(h["outcome"], h["error_code"]) for h in final.history] == [
        ("retry", "CALENDAR_PROVIDER_ERROR")
    ] * limit + [("dead", "RETRIES_EXHAUSTED")]
    letter = _letter(job)
    assert letter is not None and letter.error_code == "RETRIES_EXHAUSTED"
    assert letter.attempts == limit + 1
    # The dead letter carries this job's attempt history, in order, and nobody else's.
    assert [(h["attempt"], h["outcome"]) for h in letter.history] == [
        (n, "retry") for n in range(1, limit + 1)
    ] + [(limit + 1, "dead")]
    assert _audits(job) == 0


def test_a_category_without_a_limit_of_its_own_uses_max_retries(uid: str) -> None:
    job = _job(uid, fail_with="network")
    settings = _settings(retry_limits=(("VALIDATION", 9),), max_retries=1)
    assert _deliver(job, settings).status == "queued"
    assert _deliver(job, settings).status == "dead"


def test_a_permanent_failure_is_rejected_at_once(uid: str) -> None:
    job = _job(uid, fail_with="http403")
    final = _deliver(job, get_settings())
    assert (final.status, final.attempts) == ("rejected", 1)
    assert final.error is not None and final.error["category"] == "AUTHORIZATION"
    assert [(h["attempt"], h["outcome"], h["error_code"]) for h in final.history] == [
        (1, "rejected", final.error["code"])
    ]
    assert _letter(job) is None and _audits(job) == 0
    assert final.finished_at is not None


def test_an_unexpected_error_is_dead_at_once(uid: str) -> None:
    job = _job(uid, fail_with="unexpected")
    final = _deliver(job, get_settings())
    assert (final.status, final.attempts) == ("dead", 1)
    assert final.error is not None and final.error["code"] == "UNEXPECTED_ERROR"
    assert [(h["attempt"], h["outcome"], h["error_code"]) for h in final.history] == [
        (1, "dead", "UNEXPECTED_ERROR")
    ]
    letter = _letter(job)
    assert letter is not None and letter.error_code == "UNEXPECTED_ERROR"


def test_retry_after_sets_the_earliest_next_attempt(uid: str) -> None:
    # 429 with Retry-After: 1 (probe_kinds) and a ceiling of 0.01 s: the provider's wait wins.
    job = _job(uid, fail_with="http429", fail_times=1)
    before = datetime.now(UTC)
    view = _deliver(job, _settings(retry_backoff_base=0.01, retry_backoff_cap=5.0))
    assert view.status == "queued"
    due = datetime.fromisoformat(view.history[-1]["next_attempt_at"])
    assert due >= before + timedelta(seconds=1)
    assert due <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_finished_job_delivered_again_changes_nothing(uid: str) -> None:
    job = _job(uid)
    done = _deliver(job, get_settings())
    assert (done.status, done.attempts) == ("succeeded", 1)
    again = _deliver(job, get_settings())
    assert again.model_dump() == done.model_dump()
    assert _audits(job) == 1


def test_an_unknown_job_id_is_dropped_without_a_row() -> None:
    ghost = uuid.uuid4()
    run_delivery(ghost, get_settings())
    with pytest.raises(SchedqError) as caught:
        Client().get_job(ghost)
    assert caught.value.code == "JOB_NOT_FOUND"


def test_a_later_job_of_a_doctor_waits_for_the_earlier_one_without_an_attempt(uid: str) -> None:
    doctor = f"eo-w-{uid}"
    first, second = record(
        [JobRequest("test_touch", {"doctor_id": doctor}) for _ in range(2)]
    )
    settings = _settings(order_wait_seconds=3.0)
    before = datetime.now(UTC)
    waiting = _deliver(second.id, settings)
    # Back in the queue for a later look, not counted as an attempt, no history, no effect.
    assert (waiting.status, waiting.attempts, waiting.history) == ("queued", 0, [])
    assert _audits(second.id) == 0
    with UnitOfWork() as uow:
        job = uow.session.get(Job, uuid.UUID(second.id))
        assert job is not None and job.next_attempt_at is not None
        assert job.unfinished_deliveries == 0
        assert before + timedelta(seconds=3) <= job.next_attempt_at
    assert _deliver(first.id, settings).status == "succeeded"
    assert _deliver(second.id, settings).status == "succeeded"


@pytest.mark.parametrize("known", ["no-kind", "no-handler"])
def test_a_job_whose_kind_this_worker_cannot_run_is_rejected(
    uid: str, known: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"eo-k-{uid}"})])
    name = f"gone_{uid}"
    with UnitOfWork() as uow:  # as if written by a newer producer, or a kind since retired
        uow.session.execute(update(Job).where(Job.id == uuid.UUID(view.id)).values(kind=name))
        uow.commit()
    if known == "no-handler":  # the kind is known, but no handler is registered for it
        kind = JobKind(name, probe_kinds.ProbePayload, "schedule", by_doctor)
        monkeypatch.setitem(KINDS, name, kind)
    final = _deliver(view.id, get_settings())
    assert (final.status, final.attempts) == ("rejected", 1)
    assert final.error is not None
    assert (final.error["code"], final.error["category"]) == ("UNKNOWN_JOB_KIND", "VALIDATION")
    assert final.error["message"].startswith(f"'{name}' is not a job kind schedq knows")
    # The error names the kinds a producer may use: the product's, whatever this test added.
    assert set(KINDS) - {name} <= set(final.error["details"]["known_kinds"])


def test_a_lost_delivery_after_a_retry_is_recorded_as_the_next_attempt(uid: str) -> None:
    job = _job(uid, fail_with="network", fail_times=1)
    settings = get_settings()
    assert _deliver(job, settings).attempts == 1  # attempt 1: a retry
    with UnitOfWork() as uow:  # attempt 2 starts, and its worker dies
        assert ledger_ops.begin_delivery(uow, uuid.UUID(job)) is not None
        uow.commit()
    final = _deliver(job, settings)  # attempt 2 again, after the loss
    assert (final.status, final.attempts) == ("succeeded", 2)
    assert [(h["attempt"], h["outcome"], h["error_code"]) for h in final.history] == [
        (1, "retry", "NETWORK_ERROR"),
        (2, "worker_lost", "WORKER_LOST"),
    ]


def test_a_delivery_after_one_that_ended_unrecorded_counts_no_worker_loss(uid: str) -> None:
    # The task adapter passes previous_ended when the delivery before ended in a live worker
    # that could not record its outcome (database down): that is no worker death, so neither a
    # WORKER_LOST attempt nor a step towards crash-loop quarantine (here at the first loss).
    job = _job(uid)
    settings = _settings(max_deliveries=1)
    with UnitOfWork() as uow:  # the delivery that ended without its outcome recorded
        assert ledger_ops.begin_delivery(uow, uuid.UUID(job)) is not None
        uow.commit()
    assert run_delivery(uuid.UUID(job), settings, previous_ended=True).action == "succeeded"
    final = Client().get_job(job)
    assert (final.status, final.attempts, final.history) == ("succeeded", 1, [])
