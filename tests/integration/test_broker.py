"""shared.ledger.publish builds job messages itself: they must be what Celery's send_task sends."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
import redis
from celery import Celery, signals
from celery._state import _task_stack

from shared.ledger import publish as broker
from shared.settings import Settings, get_settings


def _settings(uid: str) -> Settings:
    return Settings(**{**get_settings().model_dump(), "schedule_queue": f"btest-{uid}"})


def _decoded(raw: bytes) -> dict[str, Any]:
    message = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def _sent(redis_url: str, settings: Settings, how: str, env: broker.Envelope) -> tuple[Any, Any]:
    """The queued message and the ``task-sent`` event of one publish."""
    r = redis.Redis.from_url(redis_url)
    sub = r.pubsub()
    sub.psubscribe("*celeryev/task.sent")
    assert sub.get_message(timeout=2)  # the subscription confirmation
    app = broker.producer_app(settings)
    if how == "direct":
        broker._publish_direct(app, [env])
    else:
        broker._publish_send_task(app, [env], None)
    (raw,) = r.lrange(env.queue, 0, -1)
    r.delete(env.queue)
    # Other test sessions may publish on this Redis at the same time: only this message's
    # event counts.
    event = None
    deadline = time.monotonic() + 5
    while event is None and time.monotonic() < deadline:
        got = sub.get_message(timeout=1, ignore_subscribe_messages=True)
        if got is not None and _decoded(got["data"])["body"].get("uuid") == env.message_id:
            event = _decoded(got["data"])
    sub.close()
    assert event is not None
    return _decoded(raw), event


def test_direct_messages_equal_celery_send_task(redis_url: str, uid: str) -> None:
    settings = _settings(uid)
    env = broker.Envelope(
        str(uuid.uuid4()), "schedq.schedule.set_working_plan", f"btest-{uid}", "c"
    )
    direct, direct_event = _sent(redis_url, settings, "direct", env)
    celery, celery_event = _sent(redis_url, settings, "send_task", env)
    for message in (direct, celery):
        del message["properties"]["delivery_tag"]  # a fresh uuid per message
    assert direct["headers"] == celery["headers"]
    assert direct == celery
    for event in (direct_event, celery_event):
        del event["properties"]["delivery_tag"]
        del event["body"]["timestamp"], event["body"]["clock"]
    assert direct_event == celery_event


def test_publish_signals_fall_back_to_celery(redis_url: str, uid: str) -> None:
    """Instrumentation on before_task_publish (tracing headers) still sees every message."""
    settings = _settings(uid)
    seen: list[str] = []

    def hook(headers: dict[str, Any], **_: Any) -> None:
        seen.append(headers["id"])

    signals.before_task_publish.connect(hook)
    try:
        env = broker.Envelope(
            str(uuid.uuid4()), "schedq.schedule.set_working_plan", f"btest-{uid}", "c"
        )
        assert broker.publish(broker.producer_app(settings), [env]) == 1
    finally:
        signals.before_task_publish.disconnect(hook)
        redis.Redis.from_url(redis_url).delete(f"btest-{uid}")
    assert seen == [env.job_id]


def test_publish_signals_see_the_same_message_on_both_paths(redis_url: str, uid: str) -> None:
    """Both paths end in Celery's ``send_task_message``, which fires the publish signals."""
    settings = _settings(uid)
    env = broker.Envelope(
        str(uuid.uuid4()), "schedq.schedule.set_working_plan", f"btest-{uid}", "c"
    )
    seen: list[tuple[str, Any]] = []

    def before(sender: str, headers: dict[str, Any], body: Any, routing_key: str, **_: Any) -> None:
        seen.append(("before", (sender, headers["id"], body, routing_key)))

    def after(sender: str, headers: dict[str, Any], body: Any, routing_key: str, **_: Any) -> None:
        seen.append(("after", (sender, headers["id"], body, routing_key)))

    def sent(sender: str, task_id: str, args: Any, **_: Any) -> None:
        seen.append(("sent", (sender, task_id, args)))

    hooks = [(signals.before_task_publish, before), (signals.after_task_publish, after)]
    hooks.append((signals.task_sent, sent))
    for signal, hook in hooks:
        signal.connect(hook)
    app = broker.producer_app(settings)
    try:
        broker._publish_direct(app, [env])
        direct = list(seen)
        seen.clear()
        broker._publish_send_task(app, [env], None)
    finally:
        for signal, hook in hooks:
            signal.disconnect(hook)
        redis.Redis.from_url(redis_url).delete(env.queue)
    assert [name for name, _ in direct] == ["before", "after", "sent"]
    assert direct[0][1][:2] == (env.task_name, env.job_id)
    assert direct == seen


@pytest.mark.parametrize("root_id", ["root-task", None])
def test_a_message_published_from_a_running_task_names_its_parent_and_root(
    redis_url: str, uid: str, root_id: str | None
) -> None:
    """A dead-letter notice is published from inside a task: Celery links it to that task.

    The worker pushes the task it runs on Celery's task stack; so does this test. A task
    without a root is the root itself.
    """
    settings = _settings(uid)
    parent_app = Celery(f"btest-{uid}", set_as_current=False)

    @parent_app.task(name=f"btest.parent-{uid}", shared=False)
    def parent() -> None:
        pass

    env = broker.Envelope(
        str(uuid.uuid4()), "schedq.schedule.set_working_plan", f"btest-{uid}", "c"
    )
    parent.push_request(id=f"parent-{uid}", root_id=root_id, called_directly=False)
    _task_stack.push(parent)
    try:
        direct, _ = _sent(redis_url, settings, "direct", env)
        celery, _ = _sent(redis_url, settings, "send_task", env)
    finally:
        _task_stack.pop()
        parent.pop_request()
    want = (f"parent-{uid}", root_id or f"parent-{uid}")
    assert (direct["headers"]["parent_id"], direct["headers"]["root_id"]) == want
    assert (celery["headers"]["parent_id"], celery["headers"]["root_id"]) == want
