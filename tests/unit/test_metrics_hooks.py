"""How a delivery's decision becomes counters (the e2e tests cover the real worker path)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from shared.errors import Category, SchedqError
from worker.pipeline.executor import Decision
from worker.runtime.metrics_hooks import kind_of, record

KIND = "set_working_plan"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_crash_without_decision_is_an_error_and_bad_message_is_dropped() -> None:
    before = value("schedq_jobs_total", kind=KIND, outcome="error")
    assert record(KIND, None, "FAILURE", 0.2) == "error"
    assert value("schedq_jobs_total", kind=KIND, outcome="error") == before + 1
    assert record(KIND, None, "SUCCESS", 0.0) == "dropped"


def test_waits_and_duplicates_are_counted_but_not_timed() -> None:
    before = value("schedq_job_duration_seconds_count", kind=KIND)
    record(KIND, Decision("wait", countdown=0.5, kind=KIND), "RETRY", 0.01)
    record(KIND, Decision("noop", kind=KIND), "SUCCESS", 0.01)
    assert value("schedq_job_duration_seconds_count", kind=KIND) == before


def test_conflicts_from_a_rejection_and_from_a_flagged_success() -> None:
    conflict = SchedqError(
        "SCHEDULE_CONFLICT", "busy", Category.BUSINESS_LOGIC, details={"conflicts": ["a", "b"]}
    )
    before_reject = value("schedq_conflicts_total", kind=KIND, strategy="reject")
    before_flag = value("schedq_conflicts_total", kind=KIND, strategy="flag")
    record(KIND, Decision("rejected", error=conflict, kind=KIND), "SUCCESS", 0.1)
    flagged = Decision("succeeded", kind=KIND, result={"conflicts": 3, "strategy": "flag"})
    record(KIND, flagged, "SUCCESS", 0.1)
    assert value("schedq_conflicts_total", kind=KIND, strategy="reject") == before_reject + 2
    assert value("schedq_conflicts_total", kind=KIND, strategy="flag") == before_flag + 3


def test_calendar_events_by_direction_from_the_result() -> None:
    before = {
        d: value("schedq_calendar_events_synced_total", direction=d) for d in ("import", "delete")
    }
    result = {"events_synced": {"import": 4, "delete": 1, "sideways": 9}}
    record("unknown", Decision("succeeded", result=result), "SUCCESS", 0.1)
    assert value("schedq_calendar_events_synced_total", direction="import") == before["import"] + 4
    assert value("schedq_calendar_events_synced_total", direction="delete") == before["delete"] + 1


def test_labels_stay_bounded() -> None:
    assert kind_of("schedq.schedule.set_working_plan") == KIND
    assert kind_of("schedq.schedule.<script>patient-123") == "unknown"
    idem = SchedqError("IDEMPOTENCY_CONFLICT", "x", Category.VALIDATION)
    before = value("schedq_conflicts_total", kind=KIND, strategy="reject")
    record(KIND, Decision("rejected", error=idem, kind=KIND), "SUCCESS", 0.1)
    assert value("schedq_conflicts_total", kind=KIND, strategy="reject") == before
