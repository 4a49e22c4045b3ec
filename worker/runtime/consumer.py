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
from collections.abc import Callable
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


def _record(message: Message, refusal: poison.Refusal) -> None:
    headers = _headers(message)
    poison.record(
        get_settings(),
        refusal,
        body=message.body or b"",
        queue=(message.delivery_info or {}).get("routing_key"),
        task_name=headers.get("task"),
        message_id=headers.get("id"),
        content_type=message.content_type,
    )


class ScreeningConsumer(Consumer):
    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Message], Any]:
        inner = super().create_task_handler(*args, **kwargs)
        limit = get_settings().max_message_bytes
        job_tasks = {kind.task_name for kind in KINDS.values()}

        def on_task_received(message: Message) -> Any:
            refusal = poison.screen(
                message.body or b"",
                message.content_type,
                _headers(message).get("task"),
                job_tasks,
                limit,
            )
            if refusal is None:
                return inner(message)
            message.reject_log_error(log, self.connection_errors)
            _record(message, refusal)
            return None

        return on_task_received

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        super().on_decode_error(message, exc)
        code = "CONTENT_TYPE_REFUSED" if isinstance(exc, ContentDisallowed) else "MALFORMED_MESSAGE"
        _record(message, poison.Refusal(code, type(exc).__name__))

    def on_unknown_message(self, body: Any, message: Message) -> None:
        super().on_unknown_message(body, message)
        _record(message, poison.Refusal("UNKNOWN_MESSAGE_FORMAT", "no task header or field"))

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        super().on_unknown_task(body, message, exc)
        _record(message, poison.Refusal("UNKNOWN_TASK", "task name not registered"))

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        super().on_invalid_task(body, message, exc)
        code = "CONTENT_TYPE_REFUSED" if isinstance(exc, ContentDisallowed) else "BAD_ARGUMENTS"
        _record(message, poison.Refusal(code, type(exc).__name__))
