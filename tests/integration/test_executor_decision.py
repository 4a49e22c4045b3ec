"""What ``run_delivery`` returns for each outcome: the ``Decision`` the task adapter acts on.

The task adapter (worker/pipeline/task.py) turns it into Celery terms: a retry with
``countdown``, a re-publish after ``countdown`` for a wait, ``JobFailed`` for rejected/dead,
``Ignore`` for a no-op, and a poison record when the error code is ``UNKNOWN_JOB``. The metrics
hooks count its typed figures (conflicts, latency). test_executor_outcomes.py checks what the
ledger holds after the same deliveries; this file checks the value the worker acts on, through
the real executor on real PostgreSQL.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from producers.client import JobRequest
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.errors import Category
from shared.ledger import delivery as ledger_ops
from shared.settings import Settings, get_settings
from tests import pg_locks, probe_kinds
from tests.domain_support import apply, plan_payload, record
from worker.pipeline.context import Conflicts
from worker.pipeline.executor import Decision, run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")

# Jobs are backdated by this much, so a decision's submit-to-commit latency is known to within
# the test's own duration.
AGE = timedelta(hours=1)


def _settings(**changes: Any) -> Settings:
    return get_settings().model_copy(update=changes)


def _submitted(kind: str, payload: dict[str, Any]) -> uuid.UUID:
    """A recorded job of ``kind``, submitted ``AGE`` ago."""
    (view,) = record([JobRequest(kind, payload)])
    job_id = uuid.UUID(view.id)
    with UnitOfWork() as uow:
        created = datetime.now(UTC) - AGE
        uow.session.execute(update(Job).where(Job.id == job_id).values(created_at=created))
        uow.commit()
    return job_id


def _probe(uid: str, **payload: Any) -> uuid.UUID:
    return _submitted("test_touch", {"doctor_id": f"ed-{uid}", **payload})


def _deliver(job_id: uuid.UUID, settings: Settings) -> tuple[Decision, timedelta]:
    """The decision, and an upper bound of its latency: now minus the job's submission."""
    decision = run_delivery(job_id, settings)
    with UnitOfWork() as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None
        return decision, datetime.now(UTC) - job.created_at


def _next_attempt_at(job_id: uuid.UUID) -> datetime:
    with UnitOfWork() as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None and job.next_attempt_at is not None
        return job.next_attempt_at


def _assert_final_latency(decision: Decision, bound: timedelta) -> None:
    """A final decision carries submit-to-commit latency: at least the job's age, at most now."""
    assert decision.latency is not None
    assert AGE.total_seconds() <= decision.latency <= bound.total_seconds()


def test_a_success_decision_names_the_kind_and_carries_latency_and_no_figures(uid: str) -> None:
    job = _probe(uid)
    decision, bound = _deliver(job, get_settings())
    assert (decision.action, decision.kind, decision.error, decision.countdown) == (
        "succeeded", "test_touch", None, None
    )  # fmt: skip
    # The probe handler meets no appointment and writes no calendar event.
    assert (decision.conflicts, decision.events) == (None, None)
    _assert_final_latency(decision, bound)


def test_a_retry_decision_carries_the_countdown_the_ledger_scheduled(uid: str) -> None:
    job = _probe(uid, fail_with="network", fail_times=2)
    settings = _settings(retry_backoff_base=1.0, retry_backoff_cap=8.0)
    for attempt in (1, 2):
        before = datetime.now(UTC)
        decision, _ = _deliver(job, settings)
        after = datetime.now(UTC)
        assert (decision.action, decision.kind, decision.latency) == ("retry", "test_touch", None)
        assert decision.error is not None
        assert (decision.error.code, decision.error.category) == ("NETWORK_ERROR", Category.NETWORK)
        assert decision.conflicts is None
        # Within the attempt's ceiling (1 s, then 2 s), and the same wait the ledger recorded:
        # Celery's retry and the reconciler's next look agree.
        assert decision.countdown is not None
        assert 0 <= decision.countdown <= 2 ** (attempt - 1)
        due = _next_attempt_at(job)
        countdown = timedelta(seconds=decision.countdown)
        assert before + countdown <= due <= after + countdown
    decision, _ = _deliver(job, settings)
    assert decision.action == "succeeded"


def test_a_retry_after_longer_than_the_backoff_is_the_countdown(uid: str) -> None:
    # 429 with Retry-After: 1 (probe_kinds) and a ceiling of 0.01 s: the provider's wait wins.
    job = _probe(uid, fail_with="http429", fail_times=1)
    decision, _ = _deliver(job, _settings(retry_backoff_base=0.01, retry_backoff_cap=5.0))
    assert decision.action == "retry"
    assert decision.countdown == 1.0
    assert decision.error is not None and decision.error.retry_after == 1.0


def test_a_rejection_decision_carries_the_error_and_latency(uid: str) -> None:
    job = _probe(uid, fail_with="http403")
    decision, bound = _deliver(job, get_settings())
    assert (decision.action, decision.kind, decision.countdown) == ("rejected", "test_touch", None)
    assert decision.error is not None
    assert decision.error.category is Category.AUTHORIZATION
    assert decision.error.code == "CALENDAR_FORBIDDEN"
    assert decision.conflicts is None
    _assert_final_latency(decision, bound)


def test_an_unexpected_error_is_a_dead_decision(uid: str) -> None:
    job = _probe(uid, fail_with="unexpected")
    decision, bound = _deliver(job, get_settings())
    assert (decision.action, decision.kind, decision.countdown) == ("dead", "test_touch", None)
    assert decision.error is not None
    assert (decision.error.code, decision.error.category) == ("UNEXPECTED_ERROR", Category.SYSTEM)
    _assert_final_latency(decision, bound)


def test_exhausted_retries_are_a_dead_decision_naming_the_last_error(uid: str) -> None:
    job = _probe(uid, fail_with="http503")
    settings = _settings(retry_limits=(("EXTERNAL_SERVICE", 1),))
    assert _deliver(job, settings)[0].action == "retry"
    decision, bound = _deliver(job, settings)
    assert (decision.action, decision.kind, decision.countdown) == ("dead", "test_touch", None)
    assert decision.error is not None
    assert (decision.error.code, decision.error.category) == (
        "RETRIES_EXHAUSTED", Category.EXTERNAL_SERVICE
    )  # fmt: skip
    assert decision.error.details == {"last_error": "CALENDAR_PROVIDER_ERROR"}
    _assert_final_latency(decision, bound)


def test_a_crash_loop_is_a_dead_decision(uid: str) -> None:
    job = _probe(uid)
    settings = _settings(max_deliveries=1)
    with UnitOfWork() as uow:  # one delivery started, and its worker died
        assert ledger_ops.begin_delivery(uow, job) is not None
        uow.commit()
    decision, bound = _deliver(job, settings)
    assert (decision.action, decision.kind) == ("dead", "test_touch")
    assert decision.error is not None and decision.error.code == "WORKER_CRASH_LOOP"
    _assert_final_latency(decision, bound)


def test_a_kind_this_worker_cannot_run_is_a_rejection_naming_it(uid: str) -> None:
    job = _probe(uid)
    name = f"gone_{uid}"
    with UnitOfWork() as uow:  # as if written by a newer producer
        uow.session.execute(update(Job).where(Job.id == job).values(kind=name))
        uow.commit()
    decision, _ = _deliver(job, get_settings())
    assert (decision.action, decision.kind) == ("rejected", name)
    assert decision.error is not None and decision.error.code == "UNKNOWN_JOB_KIND"


def test_a_failure_of_a_job_finished_meanwhile_is_a_noop_that_records_nothing(uid: str) -> None:
    # Delivery A fails before it takes any lock (a kind this worker cannot run); while it is on
    # its way to record the rejection, another delivery finishes the job. A must not overwrite
    # that outcome: it comes back as a no-op of the job's kind.
    job = _probe(uid)
    name = f"gone_{uid}"
    with UnitOfWork() as uow:
        uow.session.execute(update(Job).where(Job.id == job).values(kind=name))
        uow.commit()
    with ThreadPoolExecutor(1) as pool, pg_locks.holder() as other:
        # FOR KEY SHARE lets A's begin_delivery (a non-key UPDATE) through and stops the row
        # lock A takes to record its outcome; this transaction stands for the other delivery.
        other.execute("SELECT 1 FROM jobs WHERE id = %s FOR KEY SHARE", [job])
        run = pool.submit(run_delivery, job, get_settings())
        pg_locks.wait_blocked(other, 1)
        status = other.execute("SELECT status FROM jobs WHERE id = %s", [job]).fetchone()
        assert status == ("running",)  # A began: it waits to record its outcome, not to begin
        other.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = clock_timestamp() WHERE id = %s",
            [job],
        )
        other.commit()
        decision = run.result(timeout=60)
    assert decision == Decision("noop", kind=name)
    with UnitOfWork() as uow:
        row = uow.session.get(Job, job)
        assert row is not None and (row.status, row.error_code, row.attempts) == (
            "succeeded", None, 0
        )  # fmt: skip


def test_a_job_waiting_for_its_predecessor_is_a_wait_decision(uid: str) -> None:
    first, second = (_probe(uid) for _ in range(2))
    settings = _settings(order_wait_seconds=3.0)
    decision, _ = _deliver(second, settings)
    assert decision == Decision("wait", countdown=3.0, kind="test_touch")
    assert _deliver(first, settings)[0].action == "succeeded"
    assert _deliver(second, settings)[0].action == "succeeded"


def test_a_finished_job_delivered_again_is_a_bare_noop(uid: str) -> None:
    job = _probe(uid)
    assert _deliver(job, get_settings())[0].action == "succeeded"
    # No error: the adapter acks it (Ignore) and writes no poison record.
    assert _deliver(job, get_settings())[0] == Decision("noop")


def test_an_unknown_job_is_a_noop_whose_error_code_is_unknown_job() -> None:
    ghost = uuid.uuid4()
    decision = run_delivery(ghost, get_settings())
    # The adapter compares this code with "UNKNOWN_JOB" to record the message as poison.
    assert (decision.action, decision.kind, decision.countdown) == ("noop", None, None)
    assert decision.error is not None and decision.error.code == "UNKNOWN_JOB"


# A plan change that takes the working time of two Tuesday bookings away.
MONDAY = "2026-01-05"
TUESDAYS = ("2026-01-06T08:00:00+01:00", "2026-01-06T09:00:00+01:00")


def _plan_change_over_two_bookings(doctor: str, strategy: str) -> uuid.UUID:
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    for start in TUESDAYS:
        end = start.replace(":00:00+", ":15:00+")
        booking = {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": "p"}
        assert apply("book_appointment", booking).status == "succeeded"
    mondays_only = {"mon": [{"start": "08:00", "end": "12:00"}]}
    change = plan_payload(doctor, valid_from=MONDAY, days=mondays_only, on_conflict=strategy)
    return _submitted("set_working_plan", change)


@pytest.mark.parametrize("strategy", ["flag", "force"])
def test_a_success_over_booked_appointments_carries_the_conflicts_figure(
    uid: str, strategy: str
) -> None:
    job = _plan_change_over_two_bookings(f"ed-c-{uid}", strategy)
    decision, bound = _deliver(job, get_settings())
    assert (decision.action, decision.kind, decision.error) == (
        "succeeded", "set_working_plan", None
    )  # fmt: skip
    assert decision.conflicts == Conflicts(2, strategy)  # type: ignore[arg-type]
    assert decision.events is None
    _assert_final_latency(decision, bound)


def test_a_rejection_over_booked_appointments_carries_the_conflicts_figure(uid: str) -> None:
    job = _plan_change_over_two_bookings(f"ed-r-{uid}", "reject")
    decision, bound = _deliver(job, get_settings())
    assert (decision.action, decision.kind) == ("rejected", "set_working_plan")
    assert decision.error is not None
    assert decision.error.code == "BOOKED_APPOINTMENTS_CONFLICT"
    assert decision.error.category is Category.BUSINESS_LOGIC
    assert decision.conflicts == Conflicts(2, "reject")
    _assert_final_latency(decision, bound)


def test_latency_is_zero_not_negative_when_the_submit_time_lies_ahead(uid: str) -> None:
    # created_at comes from the database server's clock; when it runs ahead of this worker's,
    # the latency histogram gets 0, never a negative observation.
    job = _probe(uid)
    with UnitOfWork() as uow:
        ahead = datetime.now(UTC) + AGE
        uow.session.execute(update(Job).where(Job.id == job).values(created_at=ahead))
        uow.commit()
    decision, _ = _deliver(job, get_settings())
    assert (decision.action, decision.latency) == ("succeeded", 0.0)
