"""schedq_conflicts_total counts each settled conflict under the strategy the job asked for.

A real job goes through the executor on real PostgreSQL; its decision is fed to the metrics
hook as the worker's task_postrun signal does. (Before the typed ``Decision`` fields, a plan
change with ``on_conflict=force`` was counted as ``strategy="flag"``.)
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from producers.client import JobRequest
from tests.domain_support import apply, deliver, plan_payload, record
from worker.runtime import metrics, metrics_hooks

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")

MONDAY = "2026-01-05"
TUESDAY_TIMES = ("2026-01-06T08:00:00+01:00", "2026-01-06T09:00:00+01:00")


def conflicts_by_strategy(kind: str) -> dict[str, float]:
    return {
        s: REGISTRY.get_sample_value("schedq_conflicts_total", {"kind": kind, "strategy": s}) or 0.0
        for s in (*metrics.STRATEGIES, "other")
    }


def doctor_with_tuesday_bookings(doctor: str) -> None:
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    for start in TUESDAY_TIMES:
        end = start.replace("T08:00", "T08:15").replace("T09:00", "T09:15")
        payload = {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": "p"}
        view = apply("book_appointment", payload)
        assert view.status == "succeeded", view.error


def run_and_count(kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """Submit, deliver through the executor, count via the hook; the per-strategy increase."""
    view = record([JobRequest(kind, payload, correlation_id=f"corr-{uuid.uuid4().hex[:8]}")])[0]
    before = conflicts_by_strategy(kind)
    decision = deliver(view.id)
    metrics_hooks.record(metrics_hooks.kind_of(None, decision), decision, "SUCCESS", 0.01)
    after = conflicts_by_strategy(kind)
    return decision.action, {s: after[s] - before[s] for s in after}


@pytest.mark.parametrize("strategy", ["reject", "flag", "force"])
def test_plan_change_over_two_bookings_counts_its_strategy(uid: str, strategy: str) -> None:
    doctor = f"cm-{uid}"
    doctor_with_tuesday_bookings(doctor)
    # From that Monday on, no Tuesdays: both Tuesday bookings lose their working time.
    change = plan_payload(
        doctor,
        valid_from=MONDAY,
        days={"mon": [{"start": "08:00", "end": "12:00"}]},
        on_conflict=strategy,
    )
    action, rose = run_and_count("set_working_plan", change)
    assert action == ("rejected" if strategy == "reject" else "succeeded")
    expected = {s: 2.0 if s == strategy else 0.0 for s in rose}
    assert rose == expected


@pytest.mark.parametrize("strategy", ["flag", "force"])
def test_closure_over_bookings_counts_its_strategy(uid: str, strategy: str) -> None:
    doctor = f"cx-{uid}"
    doctor_with_tuesday_bookings(doctor)
    closure = {
        "doctor_id": doctor,
        "exception_id": "off",
        "kind": "vacation",
        "range": {"start": "2026-01-06T07:00", "end": "2026-01-06T12:00"},
        "on_conflict": strategy,
    }
    action, rose = run_and_count("add_exception", closure)
    assert action == "succeeded"
    assert rose == {s: 2.0 if s == strategy else 0.0 for s in rose}
