"""A worker refuses configurations that could lose, duplicate or loop jobs."""

from __future__ import annotations

from typing import Any

import pytest

from shared.settings import Settings
from worker.runtime.config import worker_config
from worker.runtime.startup_checks import UnsafeConfig, check, problems


def conf(settings: Settings, **over: Any) -> dict[str, Any]:
    return {**worker_config(settings), **over}


def test_shipped_configuration_passes() -> None:
    s = Settings()
    assert problems(conf(s), s) == []


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"accept_content": ["json", "pickle"]}, "only JSON"),
        ({"task_serializer": "pickle"}, "only JSON"),
        ({"task_acks_late": False}, "task_acks_late"),
        ({"task_reject_on_worker_lost": False}, "task_reject_on_worker_lost"),
        ({"worker_prefetch_multiplier": 4}, "prefetch"),
        ({"task_soft_time_limit": 90, "task_time_limit": 90}, "soft_time_limit"),
        ({"worker_max_memory_per_child": None}, "max_memory"),
        ({"worker_send_task_events": False}, "events"),
    ],
)
def test_each_unsafe_setting_is_named(override: dict[str, Any], needle: str) -> None:
    s = Settings()
    with pytest.raises(UnsafeConfig) as info:
        check(conf(s, **override), s)
    assert needle in str(info.value)


def test_countdown_longer_than_visibility_timeout_is_refused() -> None:
    s = Settings(
        visibility_timeout=120,
        retry_backoff_cap=600,
        soft_time_limit=30,
        time_limit=60,
        reconcile_after_seconds=60,
    )
    found = problems(conf(s), s)
    assert found == [
        "SCHEDQ_RETRY_BACKOFF_CAP (600s) must be below SCHEDQ_VISIBILITY_TIMEOUT (120s)"
    ]


def test_time_limit_longer_than_visibility_timeout_is_refused() -> None:
    s = Settings(
        visibility_timeout=60, retry_backoff_cap=10, time_limit=90, reconcile_after_seconds=30
    )
    assert any("SCHEDQ_TIME_LIMIT" in p for p in problems(conf(s), s))


@pytest.mark.parametrize("pool", ["threads", "eventlet", "gevent", "solo"])
def test_pools_without_enforced_time_limits_are_refused(pool: str) -> None:
    s = Settings()
    with pytest.raises(UnsafeConfig) as info:
        check(conf(s), s, pool=pool)
    assert f"the {pool} pool enforces no time limit" in str(info.value)


def test_prefork_passes_by_name_and_by_class() -> None:
    from celery.concurrency.prefork import TaskPool as Prefork
    from celery.concurrency.thread import TaskPool as Threads

    s = Settings()
    assert problems(conf(s), s, pool="prefork") == []
    assert problems(conf(s), s, pool=Prefork) == []
    assert any("threads pool" in p for p in problems(conf(s), s, pool=Threads))
    assert any("solo pool" in p for p in problems(conf(s, worker_pool="solo"), s))
