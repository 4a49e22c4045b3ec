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
    before = value("schedq_jobs_total", kind=KIND, outcome="error")
    assert record(KIND, None, "FAILURE", 0.2) == "error"
    assert value("schedq_jobs_total", kind=KIND, outcome="error") == before + 1
    assert record(KIND, None, "SUCCESS", 0.0) == "dropped"


def test_waits_and_duplicates_are_counted_but_not_timed() -> None:
    before = value("schedq_job_duration_seconds_count", kind=KIND)
    record(KIND, Decision("wait", countdown=0.5, kind=KIND), "RETRY", 0.01)
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
