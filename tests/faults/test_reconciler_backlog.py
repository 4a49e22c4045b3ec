"""The broker wiped under a deep backlog of retrying jobs, with a 1 s reconcile interval.

Before issue 18 the reconciler was a message on the ``schedule`` queue: behind ~375 retrying
jobs, 89 of 92 reconcile messages expired unconsumed and 265 of 300 jobs were still queued after
92 s. It now runs inside the leading beat, so the backlog cannot delay it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from tests.conftest import TEST_BROKER, wait_until
from tests.faults.conftest import FaultRig, audit, environment, statuses, wait_terminal

pytestmark = pytest.mark.faults


def reconcile_runs(rig: FaultRig) -> list[dict[str, Any]]:
    out = []
    for line in (rig.log_dir / "beat.log").read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("entry") == "schedq-reconcile":
            out.append(record)
    return out


def test_broker_wiped_under_a_deep_retry_backlog_recovers_every_job(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "4", "SCHEDQ_LOG_FORMAT": "json"}):
        rig.beat()
        node = rig.worker("backlog", concurrency=2)
    # Every job fails twice (a network error) before it succeeds: a queue full of retries.
    ids = rig.submit_touches(
        f"bk{uid}", 300, doctors=100, seconds=0.01, fail_with="network", fail_times=2
    )
    assert wait_until(
        lambda: sum(s == "succeeded" for s in statuses(ids).values()) >= 20, timeout=120
    ), node.log()
    before_wipe = statuses(ids)
    rig.broker.wipe()  # every queued and retrying message is gone
    runs_at_wipe = len(reconcile_runs(rig))
    final = wait_terminal(ids, timeout=240)
    figures = audit(ids, f"bk{uid}")
    runs = reconcile_runs(rig)[runs_at_wipe:]
    republished = sum(
        int(r["message"].split("'queued': ")[1].split(",")[0])
        for r in runs
        if "'queued'" in r.get("message", "")
    )
    report.update(
        asdict(figures),
        reconcile_interval=rig.settings.reconcile_interval_seconds,
        pending_at_wipe=sum(s in ("queued", "running") for s in before_wipe.values()),
        reconcile_runs_after_wipe=len(runs),
        republished_after_wipe=republished,
    )
    states = {s: list(final.values()).count(s) for s in set(final.values())}
    assert figures.succeeded == len(ids), (states, node.log())
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
    if TEST_BROKER == "amqp":
        # RabbitMQ keeps what a purge cannot reach (messages a worker holds unacked, retries
        # waiting in its delay exchanges) and delivers them itself: the reconciler republished
        # the purged rest, after the wipe, and every job ended once (asserted above).
        assert runs and republished > 0
    else:
        # Redis lost everything: the reconciler republished all but the jobs running at the wipe.
        assert republished >= report["pending_at_wipe"] - 2 * 2
