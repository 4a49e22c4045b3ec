"""Workers dying under jobs: pool child SIGKILL, whole-worker kill -9, SIGTERM, crash loops."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import asdict
from typing import Any

import pytest

from tests import pg_locks
from tests.conftest import wait_until
from tests.faults.conftest import FaultRig, audit, statuses, wait_terminal

pytestmark = pytest.mark.faults

KILL_RUN_JOBS = int(os.environ.get("SCHEDQ_FAULT_KILL_JOBS", "2000"))


def pool_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def count(ids: list[str], status: str) -> int:
    return sum(s == status for s in statuses(ids).values())


def running(ids: list[str]) -> list[str]:
    return sorted(i for i, s in statuses(ids).items() if s == "running")


def history(rig: FaultRig, job_id: str) -> list[dict[str, Any]]:
    return rig.client().get_job(job_id).history


def test_sigkill_of_a_pool_child_mid_job_loses_nothing(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    # When the pool notices the dead child only after the hard time limit, Celery acks the
    # message as timed out; the reconciler (beat) then resends the job still `running`.
    rig.beat()
    node = rig.worker("child-kill", concurrency=2)
    with pg_locks.holder() as held:
        # Every job waits for its doctor inside its delivery: when the kill comes, each of the
        # two pool children is in exactly one job.
        pg_locks.hold_order_keys(held, [f"ck{uid}-{i}" for i in range(20)])
        ids = rig.submit_touches(f"ck{uid}", 20, doctors=20, seconds=0.8)
        pg_locks.wait_blocked(held, 2)
        in_flight = running(ids)
        children = pool_children(node.proc.pid)
        for child in children:
            os.kill(child, signal.SIGKILL)
        held.rollback()  # the doctors are free again; the killed jobs come back
    final = wait_terminal(ids, timeout=60)
    figures = audit(ids, f"ck{uid}")
    lost = [i for i in ids if any(h["outcome"] == "worker_lost" for h in history(rig, i))]
    report.update(
        asdict(figures),
        children_killed=len(children),
        running_at_kill=len(in_flight),
        jobs_with_worker_lost=len(lost),
    )
    assert figures.succeeded == len(ids), (final, node.log())
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
    assert len(in_flight) == 2 and len(children) == 2
    # Exactly the interrupted jobs were redelivered, and their history says so.
    assert sorted(lost) == sorted(in_flight)


def test_kill_9_of_the_whole_worker_three_times_loses_nothing(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    rig.beat()  # the reconciler rescues jobs left `running` by a dead worker
    ids = rig.submit_touches(f"k9{uid}", KILL_RUN_JOBS, doctors=200)
    started = time.monotonic()
    kills = 0
    for round_ in range(4):
        node = rig.worker(f"k9-{round_}", concurrency=2)
        if round_ == 3:
            break
        target = (round_ + 1) * len(ids) // 5
        assert wait_until(lambda t=target: count(ids, "succeeded") >= t, timeout=60), node.log()
        os.killpg(node.proc.pid, signal.SIGKILL)
        node.proc.wait(5)
        kills += 1
    final = wait_terminal(ids, timeout=90)
    figures = audit(ids, f"k9{uid}")
    report.update(asdict(figures), kills=kills, drain_seconds=round(time.monotonic() - started, 1))
    assert figures.succeeded == len(ids), {
        s: list(final.values()).count(s) for s in set(final.values())
    }
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0


def test_sigterm_during_a_batch_finishes_or_returns_running_jobs(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    node = rig.worker("term", concurrency=2)
    with pg_locks.holder() as held:
        # Each of the two pool children holds one job, waiting for its doctor, at the SIGTERM.
        pg_locks.hold_order_keys(held, [f"st{uid}-{i}" for i in range(30)])
        ids = rig.submit_touches(f"st{uid}", 30, doctors=30, seconds=0.5)
        pg_locks.wait_blocked(held, 2)
        in_flight = running(ids)
        # SIGTERM to the main process only, as `docker stop` and Kubernetes deliver it.
        os.kill(node.proc.pid, signal.SIGTERM)
        held.rollback()
    code = node.proc.wait(30)
    after_stop = statuses(ids)
    # Nothing is left half-done: a job is finished or back to waiting, never stuck running.
    stuck = [i for i, s in after_stop.items() if s == "running"]
    rig.worker("term-2", concurrency=2)
    wait_terminal(ids, timeout=60)
    figures = audit(ids, f"st{uid}")
    report.update(
        asdict(figures),
        exit_code=code,
        running_at_sigterm=len(in_flight),
        succeeded_before_restart=list(after_stop.values()).count("succeeded"),
        stuck_running_after_stop=len(stuck),
    )
    assert code == 0
    assert stuck == []
    # A warm shutdown lets the jobs in flight finish; the rest wait on the queue for term-2.
    assert len(in_flight) == 2
    assert [after_stop[i] for i in in_flight] == ["succeeded", "succeeded"]
    assert figures.succeeded == len(ids) and figures.duplicates == 0
    assert figures.schedule_mismatches == 0


def test_a_job_that_kills_its_worker_every_time_is_quarantined(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    rig.beat()  # deliveries the pool reports as timed out (acked) come back via the reconciler
    node = rig.worker("crash", concurrency=1)
    client = rig.client()
    bad = client.submit("test_crash", {"doctor_id": f"cr{uid}-x"})
    good = rig.submit_touches(f"cr{uid}", 5, doctors=5)
    final = client.wait(bad.id, timeout=60)
    assert final.status == "dead", node.log()
    assert final.error is not None and final.error["code"] == "WORKER_CRASH_LOOP"
    outcomes = [h["outcome"] for h in final.history]
    # N deliveries died with their worker; delivery N+1 quarantines without running the job.
    assert outcomes.count("worker_lost") == rig.settings.max_deliveries
    assert outcomes[-1] == "dead"
    from schedq.ops import dlq

    letter = dlq.show(bad.id)
    assert letter["error_code"] == "WORKER_CRASH_LOOP"
    wait_terminal(good, timeout=30)
    figures = audit([bad.id, *good], f"cr{uid}")
    report.update(
        asdict(figures),
        deliveries_before_quarantine=rig.settings.max_deliveries,
        worker_lost_rows=outcomes.count("worker_lost"),
    )
    assert figures.succeeded == len(good) and figures.dead == 1 and figures.duplicates == 0
    assert node.proc.poll() is None  # the worker survived its pool children being killed
    assert uuid.UUID(bad.id)
