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


REDIS = "redis://127.0.0.1:6379/0"  # the visibility-timeout rules are Redis's


def test_countdown_longer_than_visibility_timeout_is_refused() -> None:
    s = Settings(
        broker_url=REDIS,
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
        broker_url=REDIS,
        visibility_timeout=60,
        retry_backoff_cap=10,
        time_limit=90,
        reconcile_after_seconds=30,
    )
    assert any("SCHEDQ_TIME_LIMIT" in p for p in problems(conf(s), s))


AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def test_amqp_shipped_configuration_passes_and_ignores_the_visibility_timeout() -> None:
    # Limits that Redis would refuse (a backoff cap past the visibility timeout) are fine on
    # RabbitMQ: countdowns wait in the broker, nothing is redelivered by a timer.
    s = Settings(broker_url=AMQP, visibility_timeout=60, retry_backoff_cap=600)
    c = conf(s)
    assert c["broker_transport_options"] == {"confirm_publish": True}
    assert problems(c, s) == []
    for queue in c["task_queues"]:
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-delivery-limit"] == s.max_deliveries + 2
        assert queue.queue_arguments["x-dead-letter-exchange"] == f"{s.dead_letter_queue}.poison"
        assert queue.exchange.type == "topic"


def test_amqp_hard_limit_past_the_consumer_timeout_is_refused() -> None:
    s = Settings(
        broker_url=AMQP, amqp_consumer_timeout_seconds=120, soft_time_limit=100, time_limit=130
    )
    with pytest.raises(UnsafeConfig) as info:
        check(conf(s), s)
    assert "SCHEDQ_AMQP_CONSUMER_TIMEOUT_SECONDS" in str(info.value)
    assert "VISIBILITY" not in str(info.value)


def test_amqp_without_confirms_or_quorum_queues_is_refused() -> None:
    from kombu import Exchange, Queue

    s = Settings(broker_url=AMQP)
    classic = [Queue("schedule", Exchange("schedule"), routing_key="schedule")]
    found = problems(conf(s, broker_transport_options={}, task_queues=classic), s)
    assert any("publisher confirms" in p for p in found)
    assert any("quorum queue" in p for p in found)


def test_amqp_countdowns_round_up_to_whole_seconds() -> None:
    from shared.celery_config import broker_countdown

    assert broker_countdown(AMQP, 0.2) == 1.0  # Celery would refuse int(0.2) == 0
    assert broker_countdown(AMQP, 2.1) == 3.0  # late by under a second, never early
    assert broker_countdown(AMQP, None) is None
    assert broker_countdown("redis://127.0.0.1:6379/0", 0.2) == 0.2


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
