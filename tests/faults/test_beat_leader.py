"""Two beats on one database: one leads, the other stands by, and takes over when it dies.

Runs are counted from the beats' own log lines (JSON, one line per reconcile run and per
calendar tick sent, each naming its beat and its time), not from timing.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.faults.conftest import FaultRig, environment

pytestmark = pytest.mark.faults

RECONCILE = "schedq-reconcile"
TICK = "calendar-enqueue-due-syncs"
# A standby polls the lock every 0.5 s; PostgreSQL ends a SIGKILLed beat's session at once.
TAKEOVER_BOUND_SECONDS = 5.0


def events(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("logger") == "schedq.beat" and "at" in record:
            out.append(record)
    return out


def runs(log: Path, entry: str) -> list[float]:
    return [e["at"] for e in events(log) if e["entry"] == entry]


def test_one_beat_leads_and_a_standby_takes_over_when_it_is_killed(
    rig: FaultRig, report: dict[str, Any]
) -> None:
    env = {
        "SCHEDQ_BEAT_STANDBY_POLL_SECONDS": "0.5",
        "SCHEDQ_LOG_FORMAT": "json",
        "SCHEDQ_CALENDAR_SYNC_INTERVAL_SECONDS": "50",  # a calendar tick every 5 s
    }
    with environment(env) as settings:
        first = rig.beat("beat-a")
        a_log = rig.log_dir / "beat-a.log"
        assert wait_until(lambda: runs(a_log, "lead"), timeout=30), a_log.read_text()
        second = rig.beat("beat-b")
        b_log = rig.log_dir / "beat-b.log"
        assert wait_until(lambda: "stands by" in b_log.read_text(), timeout=30), b_log.read_text()
    interval = settings.reconcile_interval_seconds
    # Both alive: wait for a dozen reconcile intervals and at least two calendar ticks.
    both_since = time.time()
    assert wait_until(
        lambda: (
            len([t for t in runs(a_log, RECONCILE) if t > both_since]) >= 12
            and len([t for t in runs(a_log, TICK) if t > both_since]) >= 2
        ),
        timeout=60,
    ), a_log.read_text()[-3000:]
    os.killpg(first.pid, signal.SIGKILL)
    killed_at = time.time()
    first.wait(10)
    assert wait_until(lambda: runs(b_log, "lead"), timeout=30), b_log.read_text()[-3000:]
    took_over_at = runs(b_log, "lead")[0]
    assert wait_until(
        lambda: (
            len([t for t in runs(b_log, RECONCILE) if t > took_over_at]) >= 3
            and [t for t in runs(b_log, TICK) if t > took_over_at]
        ),
        timeout=30,
    ), b_log.read_text()[-3000:]

    a_reconciles = [t for t in runs(a_log, RECONCILE) if t > both_since]
    a_ticks = [t for t in runs(a_log, TICK) if t > both_since]
    b_before_kill = [e for e in events(b_log) if e["at"] < killed_at]
    # The standby ran and sent nothing while the leader lived.
    assert b_before_kill == []
    # Exactly once per interval while both lived: never two runs in one interval.
    reconcile_gaps = [b - a for a, b in itertools.pairwise(a_reconciles)]
    tick_gaps = [b - a for a, b in itertools.pairwise(a_ticks)]
    takeover = took_over_at - killed_at
    report.update(
        interval=interval,
        leader_reconcile_runs=len(a_reconciles),
        leader_ticks=len(a_ticks),
        standby_runs_while_leader_alive=len(b_before_kill),
        min_reconcile_gap=round(min(reconcile_gaps), 3),
        max_reconcile_gap=round(max(reconcile_gaps), 3),
        min_tick_gap=round(min(tick_gaps), 3) if tick_gaps else None,
        takeover_seconds=round(takeover, 2),
        new_leader_reconcile_runs=len([t for t in runs(b_log, RECONCILE) if t > took_over_at]),
    )
    assert min(reconcile_gaps) > 0.5 * interval, reconcile_gaps
    assert all(gap > 0.5 * 5 for gap in tick_gaps), tick_gaps  # the tick is every 5 s here
    assert 0 <= takeover < TAKEOVER_BOUND_SECONDS, report
    assert second.poll() is None
