"""How a delivery's decision becomes counters (the e2e tests cover the real worker path)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from shared.errors import Category, SchedqError, error
from worker.pipeline.context import CalendarEvents, Conflicts, Refusal
from worker.pipeline.executor import Decision
from worker.runtime.metrics_hooks import kind_of, record

KIND = "set_working_plan"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_crash_without_decision_is_an_error_and_bad_message_is_dropped() -> None:
    before = value("schedq_deliveries_total", kind=KIND, outcome="error")
    assert record(KIND, None, "FAILURE", 0.2) == "error"
    assert value("schedq_deliveries_total", kind=KIND, outcome="error") == before + 1
    assert record(KIND, None, "SUCCESS", 0.0) == "dropped"


def test_a_job_counts_once_by_final_status_and_deliveries_apart() -> None:
    series = [
        ("schedq_jobs_total", {"kind": KIND, "outcome": "succeeded"}),
        ("schedq_jobs_total", {"kind": KIND, "outcome": "dead"}),
        ("schedq_deliveries_total", {"kind": KIND, "outcome": "wait"}),
        ("schedq_deliveries_total", {"kind": KIND, "outcome": "retry"}),
        ("schedq_deliveries_total", {"kind": KIND, "outcome": "noop"}),
        ("schedq_deliveries_total", {"kind": KIND, "outcome": "succeeded"}),
        ("schedq_job_waits_total", {"kind": KIND}),
        ("schedq_job_retries_total", {"kind": KIND, "category": "DATABASE"}),
        ("schedq_job_latency_seconds_count", {"kind": KIND}),
    ]
    before = [value(name, **labels) for name, labels in series]
    # One job: two waits, one retry, success, then a duplicate delivery.
    record(KIND, Decision("wait", countdown=0.5, kind=KIND), "IGNORED", 0.01)
    record(KIND, Decision("wait", countdown=0.5, kind=KIND), "IGNORED", 0.01)
    record(KIND, Decision("retry", error=error("DATABASE_BUSY"), kind=KIND), "RETRY", 0.01)
    record(KIND, Decision("succeeded", kind=KIND, latency=2.5), "SUCCESS", 0.01)
    record(KIND, Decision("noop", kind=KIND), "IGNORED", 0.01)
    moved = [value(name, **labels) - b for (name, labels), b in zip(series, before, strict=True)]
    assert moved == [1, 0, 2, 1, 1, 1, 2, 1, 1]


def test_waits_and_duplicates_are_counted_but_not_timed() -> None:
    before = value("schedq_job_duration_seconds_count", kind=KIND)
    record(KIND, Decision("wait", countdown=0.5, kind=KIND), "IGNORED", 0.01)
    record(KIND, Decision("noop", kind=KIND), "SUCCESS", 0.01)
    assert value("schedq_job_duration_seconds_count", kind=KIND) == before


def test_conflicts_counted_from_the_typed_figure_under_its_strategy() -> None:
    strategies = ("reject", "flag", "force", "report")
    before = {s: value("schedq_conflicts_total", kind=KIND, strategy=s) for s in strategies}
    err = error("BOOKED_APPOINTMENTS_CONFLICT", details={"strategy": "reject"}, count=2)
    refused = Refusal.of(err, Conflicts(2, "reject"))
    record(
        KIND,
        Decision("rejected", error=refused, kind=KIND, conflicts=refused.conflicts),
        "SUCCESS",
        0.1,
    )
    record(KIND, Decision("succeeded", kind=KIND, conflicts=Conflicts(3, "flag")), "SUCCESS", 0.1)
    record(KIND, Decision("succeeded", kind=KIND, conflicts=Conflicts(4, "force")), "SUCCESS", 0.1)
    after = {s: value("schedq_conflicts_total", kind=KIND, strategy=s) for s in strategies}
    assert {s: after[s] - before[s] for s in strategies} == {
        "reject": 2, "flag": 3, "force": 4, "report": 0,
    }  # fmt: skip


def test_an_error_code_alone_counts_no_conflict() -> None:
    # Neither the code nor the details are read: only a Decision's typed figure counts.
    clash = error(
        "BOOKED_APPOINTMENTS_CONFLICT", details={"conflicts": [{}], "strategy": "flag"}, count=1
    )
    before = value("schedq_conflicts_total", kind=KIND, strategy="reject")
    record(KIND, Decision("rejected", error=clash, kind=KIND), "SUCCESS", 0.1)
    assert value("schedq_conflicts_total", kind=KIND, strategy="reject") == before


def test_calendar_events_by_direction_from_the_typed_figure() -> None:
    directions = ("import", "export", "delete")
    before = {d: value("schedq_calendar_events_synced_total", direction=d) for d in directions}
    events = CalendarEvents(imported=4, deleted=1)
    record(
        "sync_calendar", Decision("succeeded", kind="sync_calendar", events=events), "SUCCESS", 0.1
    )
    after = {d: value("schedq_calendar_events_synced_total", direction=d) for d in directions}
    assert {d: after[d] - before[d] for d in directions} == {"import": 4, "export": 0, "delete": 1}


def test_labels_stay_bounded() -> None:
    assert kind_of("schedq.schedule.set_working_plan") == KIND
    assert kind_of("schedq.schedule.<script>patient-123") == "unknown"
    idem = SchedqError("IDEMPOTENCY_CONFLICT", "x", Category.VALIDATION)
    before = value("schedq_conflicts_total", kind=KIND, strategy="reject")
    record(KIND, Decision("rejected", error=idem, kind=KIND), "SUCCESS", 0.1)
    assert value("schedq_conflicts_total", kind=KIND, strategy="reject") == before


def test_alerting_series_exist_at_zero_after_initialise() -> None:
    from worker.runtime import metrics

    metrics.initialise((KIND,), ("reconcile",))
    for code in ("RETRIES_EXHAUSTED", "WORKER_CRASH_LOOP", "UNEXPECTED_ERROR"):
        labels = {"kind": KIND, "code": code}
        assert REGISTRY.get_sample_value("schedq_dead_letters_total", labels) is not None
    for outcome in ("succeeded", "rejected", "dead"):
        labels = {"kind": KIND, "outcome": outcome}
        assert REGISTRY.get_sample_value("schedq_jobs_total", labels) is not None
    labels = {"task": "reconcile", "outcome": "failed"}
    assert REGISTRY.get_sample_value("schedq_periodic_runs_total", labels) is not None
