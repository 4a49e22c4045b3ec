"""Pure parts of the reliability policy: backoff bounds, message screening, startup checks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedq.ops import dlq
from shared.errors import SchedqError
from shared.settings import Settings
from worker.pipeline.executor import backoff
from worker.reliability import poison
from worker.runtime import startup_checks
from worker.runtime.config import worker_config

JOB_TASKS = {"schedq.schedule.set_working_plan"}
TASK = "schedq.schedule.set_working_plan"


@given(
    attempt=st.integers(min_value=1, max_value=60),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=10_000)),
)
def test_backoff_is_full_jitter_within_zero_and_the_capped_ceiling(
    attempt: int, retry_after: float | None
) -> None:
    s = Settings(retry_backoff_base=0.5, retry_backoff_cap=30)
    delay = backoff(s, attempt, retry_after)
    ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
    assert 0 <= delay <= 30
    if retry_after is None:
        assert delay <= ceiling
    else:
        assert delay >= min(retry_after, 30)


def _body(args: object, kwargs: object = None) -> bytes:
    return json.dumps([args, {} if kwargs is None else kwargs, {}]).encode()


@pytest.mark.parametrize(
    ("body", "ctype", "task", "code"),
    [
        (_body([str(uuid.uuid4())]), "application/json", TASK, None),
        (_body([str(uuid.uuid4())]), "application/json", "celery.ping", None),
        (b"x" * 2000, "application/json", TASK, "MESSAGE_TOO_LARGE"),
        (b"\x80\x04K\x01.", "application/x-python-serialize", TASK, "CONTENT_TYPE_REFUSED"),
        (b"{nope", "application/json", TASK, "MALFORMED_MESSAGE"),
        (b'{"a": 1}', "application/json", TASK, "BAD_ARGUMENTS"),
        (_body([]), "application/json", TASK, "BAD_ARGUMENTS"),
        (_body(["x"]), "application/json", TASK, "BAD_ARGUMENTS"),
        (_body([1]), "application/json", TASK, "BAD_ARGUMENTS"),
        (_body([], {"job_id": str(uuid.uuid4())}), "application/json", TASK, "BAD_ARGUMENTS"),
    ],
)
def test_screen_refuses_each_kind_of_poison_with_its_code(
    body: bytes, ctype: str, task: str, code: str | None
) -> None:
    refusal = poison.screen(body, ctype, task, JOB_TASKS, limit=1024)
    assert (refusal.code if refusal else None) == code


def test_every_refusal_code_is_documented() -> None:
    assert set(poison.CODES) == {
        "MESSAGE_TOO_LARGE",
        "CONTENT_TYPE_REFUSED",
        "MALFORMED_MESSAGE",
        "UNKNOWN_MESSAGE_FORMAT",
        "UNKNOWN_TASK",
        "BAD_ARGUMENTS",
        "UNKNOWN_JOB",
        "UNREADABLE_ENVELOPE",
    }


def test_default_config_passes_the_startup_check() -> None:
    s = Settings()
    assert startup_checks.problems(worker_config(s), s) == []


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"accept_content": ["json", "pickle"]}, "only JSON"),
        ({"task_acks_late": False}, "task_acks_late"),
        ({"worker_prefetch_multiplier": 4}, "prefetch"),
        ({"worker_consumer": "celery.worker.consumer:Consumer"}, "worker_consumer"),
        ({"worker_max_memory_per_child": None}, "worker_max_memory_per_child"),
    ],
)
def test_unsafe_celery_settings_are_named(change: dict[str, object], needle: str) -> None:
    s = Settings()
    found = startup_checks.problems({**worker_config(s), **change}, s)
    assert any(needle in p for p in found)


def test_dlq_filters_and_durations_parse() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert dlq.parse_duration("7d") == timedelta(days=7)
    assert dlq.parse_since("2h", now) == now - timedelta(hours=2)
    assert dlq.parse_since("2026-11-01T00:00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    flt = dlq.Filter.parse("kind=set_working_plan,code=RETRIES_EXHAUSTED")
    assert (flt.kind, flt.code, flt.since) == ("set_working_plan", "RETRIES_EXHAUSTED", None)
    for bad in ("", "kind", "colour=red", "since=soon"):
        with pytest.raises(SchedqError):
            dlq.Filter.parse(bad)
