"""The broker restarted mid-run, with submissions while it is down: 0 lost, 0 duplicated.

On RabbitMQ (SCHEDQ_TEST_BROKER=amqp) this is ``rabbitmqctl stop_app``/``start_app`` of the
machine's server: quorum queues keep their messages, unacked ones come back, publishes while it
is down fail their confirm and leave the ledger row for the reconciler. On Redis it is the
test's own ``redis-server``, restarted without persistence: the reconciler resends everything.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import pytest

from tests.conftest import TEST_BROKER, wait_until
from tests.faults.conftest import FaultRig, audit, environment, statuses, wait_terminal

pytestmark = pytest.mark.faults


def test_broker_restarted_mid_run_loses_and_duplicates_nothing(
    rig: FaultRig, uid: str, report: dict[str, Any]
) -> None:
    with environment({"SCHEDQ_RECONCILE_AFTER_SECONDS": "4"}):
        beat = rig.beat()
        node = rig.worker("restart", concurrency=2)
    ids = rig.submit_touches(f"rs{uid}", 200, doctors=50, seconds=0.02)
    assert wait_until(
        lambda: sum(s == "succeeded" for s in statuses(ids).values()) >= 40, timeout=90
    ), node.log()
    rig.broker.stop()
    try:
        started = time.monotonic()
        late = rig.submit_touches(f"rs{uid}", 30, doctors=50)  # accepted: the ledger has them
        submit_seconds = time.monotonic() - started
        queued_while_down = sum(s == "queued" for s in statuses(late).values())
        time.sleep(2)
    finally:
        rig.broker.start()
    ids += late
    final = wait_terminal(ids, timeout=180)
    figures = audit(ids, f"rs{uid}")
    report.update(
        asdict(figures),
        broker=TEST_BROKER,
        queued_while_down=queued_while_down,
        submit_seconds_while_down=round(submit_seconds, 1),
        worker_survived=node.proc.poll() is None,
        beat_survived=beat.poll() is None,
    )
    states = {s: list(final.values()).count(s) for s in set(final.values())}
    assert queued_while_down == len(late)
    assert figures.succeeded == len(ids), (states, node.log())
    assert figures.pending == 0 and figures.duplicates == 0 and figures.schedule_mismatches == 0
    assert node.proc.poll() is None and beat.poll() is None
