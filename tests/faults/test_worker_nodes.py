"""Three worker nodes with distinct hostnames; one whole node (its process group) is SIGKILLed.

The jobs it held (running, or prefetched and unacknowledged) come back through the reconciler
in beat: every job ends terminal and each successful job has exactly one effect (one audit row).
"""

from __future__ import annotations

import os
import signal
from dataclasses import asdict
from typing import Any

import psutil
import pytest

from tests.conftest import wait_until
from tests.faults.conftest import FaultRig, audit, environment, statuses, wait_terminal

pytestmark = pytest.mark.faults


def test_a_whole_node_killed_mid_run_loses_and_duplicates_nothing(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "4"}):
        rig.beat()
        nodes = [rig.worker(f"node{n}", concurrency=2, host=f"host-{n}") for n in (1, 2, 3)]
    assert len({node.name.split("@")[1] for node in nodes}) == 3
    ids = rig.submit_touches(f"nd{uid}", 300, doctors=100, seconds=0.05)
    assert wait_until(
        lambda: sum(s == "succeeded" for s in statuses(ids).values()) >= 80, timeout=120
    ), nodes[0].log()
    victim = nodes[1]
    group = [victim.proc.pid, *(c.pid for c in psutil.Process(victim.proc.pid).children())]
    running_at_kill = sum(s == "running" for s in statuses(ids).values())
    os.killpg(victim.proc.pid, signal.SIGKILL)  # the main process and every pool child
    victim.proc.wait(10)
    assert wait_until(lambda: not any(psutil.pid_exists(p) for p in group), timeout=10)
    final = wait_terminal(ids, timeout=180)
    figures = audit(ids, f"nd{uid}")
    report.update(
        asdict(figures),
        nodes=[node.name for node in nodes],
        killed=victim.name,
        killed_processes=len(group),
        running_at_kill=running_at_kill,
    )
    states = {s: list(final.values()).count(s) for s in set(final.values())}
    assert figures.pending == 0, (states, nodes[0].log())
    assert figures.succeeded == len(ids), states
    assert figures.duplicates == 0 and figures.schedule_mismatches == 0
    assert all(node.proc.poll() is None for node in (nodes[0], nodes[2]))
