"""A database outage is not a worker death: no WORKER_LOST rows, no crash-loop quarantine.

Issue 13 item 4: a delivery counts itself (``unfinished_deliveries``) when it begins and uncounts
itself when it records its outcome. While the database is down the outcome cannot be recorded,
the task retries, and the next delivery found the count still raised: it wrote a WORKER_LOST
attempt row and moved the job towards WORKER_CRASH_LOOP, although no worker died. Here the
run's database refuses every connection for a few seconds while real workers hold deliveries.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
from sqlalchemy import func, select

from shared.db.base import dispose_engines
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from tests import pg_locks
from tests.conftest import ADMIN_PG, DB_NAME
from tests.faults.conftest import FaultRig, audit, report, rig, statuses, wait_terminal

__all__ = ["report", "rig"]  # the fault suite's fixtures, used here


def outage(seconds: float, keep: int = 0) -> int:
    """Refuse new connections to the run's database and cut the open ones (but session
    ``keep``, a test's lock holder), then reopen."""
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{DB_NAME}" ALLOW_CONNECTIONS false')
        try:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
                [DB_NAME, keep],
            ).fetchone()
            time.sleep(seconds)
        finally:
            admin.execute(f'ALTER DATABASE "{DB_NAME}" ALLOW_CONNECTIONS true')
    dispose_engines()  # this process's pooled connections were cut too
    return int(cut[0]) if cut else 0


def worker_lost_rows(ids: list[str]) -> int:
    with UnitOfWork() as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(JobAttempt)
                .where(
                    JobAttempt.job_id.in_([uuid.UUID(i) for i in ids]),
                    JobAttempt.outcome == "worker_lost",
                )
            )
            or 0
        )


def test_a_database_outage_mid_delivery_leaves_no_worker_lost_rows(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    node = rig.worker("outage", concurrency=2)
    with pg_locks.holder() as held:
        # Both pool children wait for a doctor inside a delivery: the outage cuts two known
        # deliveries in flight.
        pg_locks.hold_order_keys(held, [f"out{uid}-{i}" for i in range(8)])
        ids = rig.submit_touches(f"out{uid}", 8, doctors=8)
        pg_locks.wait_blocked(held, 2)
        in_flight = sorted(i for i, s in statuses(ids).items() if s == "running")
        cut = outage(6, keep=held.info.backend_pid)
        held.rollback()
    final = wait_terminal(ids, timeout=90)
    figures = audit(ids, f"out{uid}")
    lost = worker_lost_rows(ids)
    log = node.log_text()
    unrecorded = log.count("outcome not recorded (DATABASE_UNAVAILABLE)")
    report.update(
        succeeded=figures.succeeded,
        dead=figures.dead,
        backends_cut=cut,
        running_at_outage=len(in_flight),
        outcomes_not_recorded=unrecorded,
        worker_lost_rows=lost,
    )
    # Both deliveries the outage cut could not save their end. How many more attempts found the
    # database still down depends on the backoff's random delays, so the total has a lower
    # bound (those two), not an exact figure.
    assert len(in_flight) == 2
    unsaved = [f"job {i}: outcome not recorded (DATABASE_UNAVAILABLE)" in log for i in in_flight]
    assert unsaved == [True, True], node.log()
    assert unrecorded >= len(in_flight)
    assert figures.succeeded == len(ids), (final, node.log())
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
    assert lost == 0  # no worker died
    assert node.proc.poll() is None


def test_only_an_unrecorded_end_is_uncounted_a_real_death_still_is(
    database_url: str, uid: str
) -> None:
    from producers.client import JobRequest
    from shared.db.uow import UnitOfWork as Uow
    from shared.ledger import delivery as ledger_ops
    from shared.settings import get_settings
    from tests.domain_support import record
    from worker.pipeline.executor import run_delivery

    views = record([JobRequest("test_touch", {"doctor_id": f"un{uid}-{i}"}) for i in range(2)])
    for view in views:  # a delivery began and never recorded its end
        with Uow() as uow:
            assert ledger_ops.begin_delivery(uow, uuid.UUID(view.id)) is not None
            uow.commit()
    ended, died = (uuid.UUID(v.id) for v in views)
    assert run_delivery(ended, get_settings(), previous_ended=True).action == "succeeded"
    assert run_delivery(died, get_settings()).action == "succeeded"
    assert worker_lost_rows([str(ended)]) == 0
    assert worker_lost_rows([str(died)]) == 1
