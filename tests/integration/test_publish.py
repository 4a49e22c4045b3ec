"""Publishing after commit: what reaches the queue, with a countdown or through Celery's own
path, and what a broker outage does (nothing raised, a warning, 0 sent)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
import redis
from celery import signals

from shared.ledger import publish as broker
from shared.settings import Settings, get_settings

pytestmark = pytest.mark.usefixtures("redis_url")
TASK = "schedq.schedule.set_working_plan"


def _settings(uid: str, **changes: Any) -> Settings:
    return get_settings().model_copy(update={"schedule_queue": f"pub-{uid}", **changes})


def _queued(settings: Settings, queue: str | None = None) -> list[dict[str, Any]]:
    queue = queue or settings.schedule_queue
    r = redis.Redis.from_url(settings.broker_url)
    raw = r.lrange(queue, 0, -1)
    r.delete(queue)
    return [json.loads(m) for m in raw]


def _envelope(settings: Settings) -> broker.Envelope:
    return broker.Envelope(str(uuid.uuid4()), TASK, settings.schedule_queue, "corr")


def test_nothing_to_publish_sends_nothing(uid: str) -> None:
    settings = _settings(uid)
    assert broker.publish_committed(settings, []) == 0
    assert broker.publish(broker.producer_app(settings), []) == 0
    assert _queued(settings) == []


def test_a_countdown_is_carried_as_an_eta(uid: str) -> None:
    settings = _settings(uid)
    env = _envelope(settings)
    assert broker.publish(broker.producer_app(settings), [env], countdown=30) == 1
    (message,) = _queued(settings)
    assert message["headers"]["id"] == env.job_id
    assert message["headers"]["eta"] is not None
    assert message["headers"]["schedq_correlation_id"] == "corr"


def test_with_publish_signals_messages_still_reach_their_queue(uid: str) -> None:
    settings = _settings(uid)
    seen: list[str] = []

    def hook(headers: dict[str, Any], **_: Any) -> None:
        seen.append(headers["id"])

    envelopes = [_envelope(settings) for _ in range(3)]
    signals.before_task_publish.connect(hook)
    try:
        assert broker.publish(broker.producer_app(settings), envelopes) == 3
    finally:
        signals.before_task_publish.disconnect(hook)
    queued = _queued(settings)
    assert seen == [e.job_id for e in envelopes]
    # Redis queues are LPUSHed: the newest message is first in the list.
    assert [m["headers"]["id"] for m in reversed(queued)] == [e.job_id for e in envelopes]
    assert {m["headers"]["eta"] for m in queued} == {None}


@pytest.mark.parametrize("signal_receiver", [False, True], ids=["direct", "send_task"])
def test_a_message_reaches_its_envelopes_queue_not_the_default_one(
    uid: str, signal_receiver: bool
) -> None:
    # The calendar queue is not the app's default queue (the schedule queue): a message that
    # lost its queue on the way would land there instead.
    settings = _settings(uid, calendar_queue=f"pubcal-{uid}")
    env = broker.Envelope(
        str(uuid.uuid4()), "schedq.calendar.link_calendar", settings.calendar_queue, "corr"
    )

    def hook(**_: Any) -> None:
        pass

    if signal_receiver:  # forces Celery's own path (send_task)
        signals.before_task_publish.connect(hook)
    try:
        assert broker.publish(broker.producer_app(settings), [env]) == 1
    finally:
        signals.before_task_publish.disconnect(hook)
        default = _queued(settings)
    assert default == []
    (message,) = _queued(settings, settings.calendar_queue)
    assert message["headers"]["id"] == env.job_id
    assert message["properties"]["delivery_info"]["routing_key"] == settings.calendar_queue


def test_a_broker_outage_is_logged_and_nothing_raises(
    uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 9 (discard): the publish fails at once.
    down = _settings(uid, broker_url="redis://127.0.0.1:9/0")
    envelopes = [_envelope(down) for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="schedq.publish"):
        assert broker.publish_committed(down, envelopes) == 0
    (record,) = [r for r in caplog.records if r.name == "schedq.publish"]
    # kombu's connection error, by type name only (ids and URLs stay out of the log)
    assert record.getMessage() == (
        "2 committed job message(s) not published (OperationalError); they stay queued in the "
        "ledger and the reconciler will publish them"
    )
