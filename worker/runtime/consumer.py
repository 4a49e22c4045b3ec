"""A Celery consumer that screens every message before dispatch and records what it refuses.

Celery already refuses most poison without running code, but only logs it:
- a body that is not valid JSON -> ``on_decode_error`` (acked);
- a pickle (any non-accepted content type) -> kombu raises ContentDisallowed -> ``on_invalid_task``;
- an unknown task name -> ``on_unknown_task``; a non-task message -> ``on_unknown_message``.
We keep that behaviour (ack/reject, worker keeps going) and add: a size limit and an argument
check *before* dispatch (so an oversized or wrongly shaped message never reaches a pool
process), and a ``poison_messages`` row for every refusal. Configured with
``worker_consumer = "worker.runtime.consumer:ScreeningConsumer"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from celery.worker.consumer.consumer import Consumer
from kombu.exceptions import ContentDisallowed
from kombu.message import Message

from shared.kinds import KINDS
from shared.settings import get_settings
from worker.reliability import poison

log = logging.getLogger("schedq.consumer")
# What worker.app sets as ``worker_consumer`` and the startup check insists on.
SCREENING_CONSUMER = "worker.runtime.consumer:ScreeningConsumer"


def _headers(message: Message) -> dict[str, Any]:
    headers = message.headers
    return headers if isinstance(headers, dict) else {}


# The decisions below are plain functions of the message (tests/unit/test_screening_consumer.py);
# the Consumer subclass only wires them to Celery's hooks and to the poison_messages table.


def job_task_names() -> frozenset[str]:
    """The task names the screen checks in full; any other name is left to Celery."""
    return frozenset(kind.task_name for kind in KINDS.values())


def screen_message(
    message: Message, job_tasks: Collection[str], limit: int
) -> poison.Refusal | None:
    """Why ``message`` must not reach a pool process, or None to dispatch it."""
    return poison.screen(
        message.body or b"",
        message.content_type,
        _headers(message).get("task"),
        job_tasks,
        limit,
    )


def poison_fields(message: Message) -> dict[str, Any]:
    """What a poison record keeps of a refused message, besides the refusal."""
    headers = _headers(message)
    return {
        "body": message.body or b"",
        "queue": (message.delivery_info or {}).get("routing_key"),
        "task_name": headers.get("task"),
        "message_id": headers.get("id"),
        "content_type": message.content_type,
    }


def decode_refusal(exc: Exception) -> poison.Refusal:
    """A body Celery could not decode: a refused content type (pickle) or malformed data."""
    code = "CONTENT_TYPE_REFUSED" if isinstance(exc, ContentDisallowed) else "MALFORMED_MESSAGE"
    return poison.Refusal(code, type(exc).__name__)


def invalid_task_refusal(exc: Exception) -> poison.Refusal:
    """A task message Celery refused to run: a refused content type or unusable arguments."""
    code = "CONTENT_TYPE_REFUSED" if isinstance(exc, ContentDisallowed) else "BAD_ARGUMENTS"
    return poison.Refusal(code, type(exc).__name__)


def unknown_message_refusal() -> poison.Refusal:
    return poison.Refusal("UNKNOWN_MESSAGE_FORMAT", "no task header or field")


def unknown_task_refusal() -> poison.Refusal:
    return poison.Refusal("UNKNOWN_TASK", "task name not registered")


def record_refusal(message: Message, refusal: poison.Refusal) -> None:
    """A poison_messages row for a refused message (and a dead job if it named a pending one)."""
    poison.record(get_settings(), refusal, **poison_fields(message))


class ScreeningConsumer(Consumer):
    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Message], Any]:
        inner = super().create_task_handler(*args, **kwargs)
        limit = get_settings().max_message_bytes
        job_tasks = job_task_names()

        def on_task_received(message: Message) -> Any:
            refusal = screen_message(message, job_tasks, limit)
            if refusal is None:
                return inner(message)
            message.reject_log_error(log, self.connection_errors)
            record_refusal(message, refusal)
            return None

        return on_task_received

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        super().on_decode_error(message, exc)
        record_refusal(message, decode_refusal(exc))

    def on_unknown_message(self, body: Any, message: Message) -> None:
        super().on_unknown_message(body, message)
        record_refusal(message, unknown_message_refusal())

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        super().on_unknown_task(body, message, exc)
        record_refusal(message, unknown_task_refusal())

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        super().on_invalid_task(body, message, exc)
        record_refusal(message, invalid_task_refusal(exc))
