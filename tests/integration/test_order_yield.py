"""Per-doctor order without a re-queue cascade (``worker.pipeline.ordering``), with the
concurrency made explicit: the test holds the doctor's advisory lock on its own connection and
lets go only once PostgreSQL reports the deliveries queued behind it, in a known order.

- A successor that reaches the lock before its claimed predecessor lets the predecessor go
  first and then runs: both succeed, in order, and nothing goes back to the broker.
- A predecessor waiting for a later time (a retry's backoff) sends the successor back at once.
- A predecessor claimed by a delivery that never reaches the lock (its worker died) sends the
  successor back once the patience is spent.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from producers.client import JobRequest
from shared.db.jobs import AuditEntry, Job
from shared.db.uow import UnitOfWork
from shared.ledger import delivery as ledger_ops
from shared.settings import get_settings
from tests import pg_locks, probe_kinds
from tests.domain_support import record
from worker.pipeline import ordering
from worker.pipeline.executor import Decision, run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def _two_jobs(doctor: str) -> tuple[uuid.UUID, uuid.UUID]:
    first, second = record([JobRequest("test_touch", {"doctor_id": doctor}) for _ in range(2)])
    return uuid.UUID(first.id), uuid.UUID(second.id)


def _audit_order(doctor_jobs: tuple[uuid.UUID, ...]) -> list[uuid.UUID]:
    with UnitOfWork() as uow:
        rows = uow.session.scalars(
            select(AuditEntry.job_id)
            .where(AuditEntry.job_id.in_(doctor_jobs))
            .order_by(AuditEntry.id)
        )
        return list(rows)


def _status(job_id: uuid.UUID) -> str:
    with UnitOfWork() as uow:
        return str(uow.sql("SELECT status FROM jobs WHERE id = %(id)s", {"id": job_id}).scalar())


def test_a_successor_first_at_the_lock_lets_its_claimed_predecessor_go_first(uid: str) -> None:
    doctor = f"yield-{uid}"
    first, second = _two_jobs(doctor)
    settings = get_settings()
    with ThreadPoolExecutor(2) as pool:
        with pg_locks.holder() as held:
            held.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [doctor])
            # The successor queues for the lock first, then the predecessor (claimed: running)
            # behind it; PostgreSQL grants a released lock in queue order.
            later = pool.submit(run_delivery, second, settings)
            pg_locks.wait_blocked(held, 1)
            earlier = pool.submit(run_delivery, first, settings)
            pg_locks.wait_blocked(held, 2)
        decisions: list[Decision] = [earlier.result(timeout=60), later.result(timeout=60)]

    assert [d.action for d in decisions] == ["succeeded", "succeeded"]
    assert _audit_order((first, second)) == [first, second]


def test_a_predecessor_waiting_for_a_later_time_sends_the_successor_back_at_once(
    uid: str,
) -> None:
    first, second = _two_jobs(f"later-{uid}")
    with UnitOfWork() as uow:  # as a retry leaves it: queued, due in a minute
        due = datetime.now(UTC) + timedelta(minutes=1)
        uow.session.execute(update(Job).where(Job.id == first).values(next_attempt_at=due))
        uow.commit()

    decision = run_delivery(second, get_settings())

    assert (decision.action, decision.countdown) == ("wait", get_settings().order_wait_seconds)
    assert (_status(first), _status(second)) == ("queued", "queued")
    assert _audit_order((first, second)) == []


def test_a_claimed_predecessor_that_never_comes_costs_one_patience_then_a_wait(
    uid: str,
) -> None:
    first, second = _two_jobs(f"stale-{uid}")
    with UnitOfWork() as uow:  # claimed by a delivery whose worker then died
        assert ledger_ops.begin_delivery(uow, first) is not None
        uow.commit()
    with UnitOfWork() as uow:
        # Its own job is pending and it waits on a claimed predecessor: still "due" each time.
        assert ledger_ops.lock_if_pending_in_order(uow, second, f"stale-{uid}", _seq(second)) == (
            True,
            "due",
        )

    decision = run_delivery(second, get_settings())

    assert decision.action == "wait"
    assert (_status(first), _status(second)) == ("running", "queued")


def test_lock_in_order_tries_again_until_the_patience_is_spent(uid: str) -> None:
    first, second = _two_jobs(f"patience-{uid}")
    with UnitOfWork() as uow:
        assert ledger_ops.begin_delivery(uow, first) is not None
        uow.commit()
    rounds = 0
    real = ledger_ops.lock_if_pending_in_order

    def counted(*args: object) -> tuple[bool, str | None]:
        nonlocal rounds
        rounds += 1
        return real(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp, UnitOfWork() as uow:
        mp.setattr(ledger_ops, "lock_if_pending_in_order", counted)
        pending, waits = ordering.lock_in_order(uow, second, f"patience-{uid}", _seq(second))
        assert (pending, waits) == (True, "due")
        # More than one look (it let go and tried again) within one patience.
        assert rounds > 1
        # With no patience: one look, then the answer as it stands.
        before = rounds
        pending, waits = ordering.lock_in_order(
            uow, second, f"patience-{uid}", _seq(second), patience=0
        )
        assert (pending, waits, rounds - before) == (True, "due", 1)


def _seq(job_id: uuid.UUID) -> int:
    with UnitOfWork() as uow:
        return int(uow.sql("SELECT seq FROM jobs WHERE id = %(id)s", {"id": job_id}).scalar())


def test_lock_in_order_looks_once_when_a_predecessor_waits_for_later(uid: str) -> None:
    first, second = _two_jobs(f"once-{uid}")
    with UnitOfWork() as uow:
        due = datetime.now(UTC) + timedelta(minutes=1)
        uow.session.execute(update(Job).where(Job.id == first).values(next_attempt_at=due))
        uow.commit()
    looks: list[tuple[bool, str | None]] = []
    real = ledger_ops.lock_if_pending_in_order

    def counted(*args: object) -> tuple[bool, str | None]:
        looks.append(real(*args))  # type: ignore[arg-type]
        return looks[-1]

    with pytest.MonkeyPatch.context() as mp, UnitOfWork() as uow:
        mp.setattr(ledger_ops, "lock_if_pending_in_order", counted)
        assert ordering.lock_in_order(uow, second, f"once-{uid}", _seq(second)) == (True, "later")
    assert looks == [(True, "later")]
