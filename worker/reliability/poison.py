"""Poison messages: what is refused before job code runs, and how it is recorded.

``screen`` is a pure check of a raw broker message (size, content type, JSON, task name,
arguments); ``record`` writes a ``poison_messages`` row and, when the message named a job the
ledger holds that is still pending, makes that job dead with a dead letter (its real message
was consumed by this refusal, so an operator must decide). Recording never raises: a worker
must keep serving even when the database is down while it refuses a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from shared.db.reliability import PoisonMessage
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, error
from shared.ledger import delivery as ledger_ops
from shared.settings import Settings
from worker.reliability import dead_letters

log = logging.getLogger("schedq.poison")

# code -> operator-facing explanation (stable codes; documented in docs/reliability.md)
CODES = {
    "MESSAGE_TOO_LARGE": "The message is larger than SCHEDQ_MAX_MESSAGE_BYTES.",
    "CONTENT_TYPE_REFUSED": "The message is not JSON (pickle and others are never decoded).",
    "MALFORMED_MESSAGE": "The message body is not valid JSON.",
    "UNKNOWN_MESSAGE_FORMAT": "The message is not a Celery task message.",
    "UNKNOWN_TASK": "No task of that name is registered on this worker.",
    "BAD_ARGUMENTS": "The message's arguments are not exactly one job id.",
    "UNKNOWN_JOB": "The message names a job id the ledger does not know.",
    "UNREADABLE_ENVELOPE": "A queue item is not a broker message at all (not kombu JSON).",
}


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


def job_ref(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def check_arguments(args: Any, kwargs: Any) -> Refusal | None:
    """A job message carries exactly one argument, the job id; anything else is refused."""
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
        return Refusal("BAD_ARGUMENTS", "arguments are not a list and a mapping")
    if kwargs or len(args) != 1:
        return Refusal("BAD_ARGUMENTS", f"{len(args)} positional and {len(kwargs)} named arguments")
    if not isinstance(args[0], str) or job_ref(args[0]) is None:
        return Refusal("BAD_ARGUMENTS", f"argument is a {type(args[0]).__name__}, not a job id")
    return None


def screen(
    body: bytes | str,
    content_type: str | None,
    task_name: Any,
    job_tasks: Collection[str],
    limit: int,
) -> Refusal | None:
    """Refuse without decoding anything but JSON, and only for the job tasks we own."""
    size = len(body)
    if size > limit:
        return Refusal("MESSAGE_TOO_LARGE", f"{size} bytes > limit {limit}")
    if task_name not in job_tasks:
        return None  # Celery's own handler decides (unknown task, control messages...)
    if content_type != "application/json":
        return Refusal("CONTENT_TYPE_REFUSED", f"content type {str(content_type)[:60]!r}")
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Refusal("MALFORMED_MESSAGE", "body is not valid JSON")
    # Celery protocol 2 body: [args, kwargs, embed]
    if not isinstance(decoded, list) or len(decoded) != 3:
        return Refusal("BAD_ARGUMENTS", "body is not [args, kwargs, embed]")
    return check_arguments(decoded[0], decoded[1])


def _poison_error(code: str) -> SchedqError:
    # Every refusal code has its POISON_<code> entry in the catalogue (a unit test checks).
    return error(f"POISON_{code}", details={"poison_code": code})


def record(
    settings: Settings,
    refusal: Refusal,
    *,
    body: bytes | str = b"",
    queue: str | None = None,
    task_name: Any = None,
    message_id: Any = None,
    content_type: str | None = None,
) -> None:
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body)
    job_id = job_ref(message_id) if message_id is not None else None
    log.warning("refused message %s (%s): %s", message_id, refusal.code, refusal.detail)
    try:
        with UnitOfWork() as uow:
            uow.session.add(
                PoisonMessage(
                    code=refusal.code,
                    queue=str(queue)[:200] if queue else None,
                    task_name=str(task_name)[:200] if task_name is not None else None,
                    message_id=str(message_id)[:200] if message_id is not None else None,
                    job_id=job_id,
                    content_type=(content_type or "")[:100] or None,
                    size=len(raw),
                    body_sha256=hashlib.sha256(raw).hexdigest(),
                    detail=refusal.detail[:500],
                )
            )
            if (
                job_id is not None
                and refusal.code != "UNKNOWN_JOB"
                and ledger_ops.lock_if_pending(uow, job_id)
            ):
                err = _poison_error(refusal.code)
                ledger_ops.finish(uow, job_id, "dead", error=err, count_attempt=False)
                ledger_ops.record_attempt(uow, job_id, 1, "dead", err)
                dead_letters.bury(uow, job_id, err, settings)
            uow.commit()
    except Exception:
        log.exception("could not record refused message %s", message_id)
