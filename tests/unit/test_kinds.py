"""Every job kind is complete: a payload model, one bound handler, one Celery task, a queue.

``shared.kinds`` declares a kind once; the worker binds a handler beside its service and
``worker.app`` registers a task per kind. A kind missing any of them fails here, not on its first
job in production. (Probe kinds from tests/probe_kinds.py may be installed by other tests in this
process; they must pass the same checks.)
"""

from __future__ import annotations

import uuid
from typing import get_args

import pytest
from pydantic import BaseModel

from shared import kinds
from shared.errors import SchedqError
from shared.kinds import KINDS, JobKind, by_doctor
from shared.payloads import Payload
from shared.settings import get_settings
from worker.app import app
from worker.pipeline import executor
from worker.pipeline.context import ConflictStrategy, JobContext
from worker.pipeline.handlers import BOUND, bind, handler_for
from worker.runtime import metrics

# The product's kinds and their public names (the documented interface).
PRODUCT = {
    "set_working_plan", "add_exception", "remove_exception", "set_holidays",
    "book_appointment", "cancel_appointment", "reschedule_appointment",
    "link_calendar", "unlink_calendar", "sync_calendar", "publish_calendar",
}  # fmt: skip


def test_the_product_kinds_are_all_declared() -> None:
    assert set(KINDS) >= PRODUCT


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_kind_has_payload_model_handler_task_and_queue(name: str) -> None:
    kind = KINDS[name]
    assert kind.name == name
    assert issubclass(kind.payload, BaseModel) and issubclass(kind.payload, Payload)
    assert handler_for(name) is not None, f"no handler bound for {name}"
    assert kind.task_name in app.tasks, f"no Celery task {kind.task_name}"
    assert app.tasks[kind.task_name].name == kind.task_name
    settings = get_settings()
    assert kind.queue_role in get_args(kinds.QueueRole)
    assert kind.queue(settings) in {settings.schedule_queue, settings.calendar_queue}


def test_no_handler_is_bound_for_an_unknown_kind() -> None:
    assert set(BOUND) <= set(KINDS)
    assert handler_for("no_such_kind") is None


def test_binding_needs_a_registered_kind_and_one_handler_per_kind() -> None:
    ghost = JobKind("not_registered", Payload, "schedule", by_doctor)
    with pytest.raises(ValueError, match="not registered"):
        bind(ghost, lambda uow, ctx, payload: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="already has a handler"):
        bind(kinds.SET_WORKING_PLAN, lambda uow, ctx, payload: None)  # type: ignore[arg-type, return-value]
    assert "not_registered" not in BOUND


def test_a_job_of_a_kind_without_handler_is_refused_with_the_catalogue_error() -> None:
    ctx = JobContext(uuid.uuid4(), "no_such_kind", "corr", "tests", 1)
    settings = get_settings()
    with pytest.raises(SchedqError) as refused:
        executor._apply(ctx, {}, None, 1, settings)
    assert refused.value.code == "UNKNOWN_JOB_KIND"
    assert refused.value.message == "'no_such_kind' is not a job kind schedq knows."


def test_conflict_strategies_are_the_metric_labels() -> None:
    assert set(get_args(ConflictStrategy)) == set(metrics.STRATEGIES)
