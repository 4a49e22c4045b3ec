"""The screening consumer's decisions, on kombu messages built here (no broker, no worker).

The consumer itself only runs inside a worker (tests/faults/test_bad_input_corpus.py sends it
every kind of poison); what it decides for a message is in plain functions, checked here.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.message import Message

from shared.kinds import KINDS
from worker.reliability.poison import Refusal
from worker.runtime import consumer

TASK = KINDS["book_appointment"].task_name
JOB_ID = "0b8f6f64-2d4a-4c48-9a51-7f3e5f0b2a11"


def _message(body: bytes | str, **kw: Any) -> Message:
    kw.setdefault("content_type", "application/json")
    return Message(body=body, **kw)


def _task_body(args: Any, kwargs: Any = None) -> bytes:
    return json.dumps([args, kwargs or {}, {}]).encode()


def test_every_job_kind_is_screened_and_nothing_else() -> None:
    names = consumer.job_task_names()
    assert names == {kind.task_name for kind in KINDS.values()}
    assert "celery.ping" not in names


def test_a_well_formed_job_message_is_dispatched() -> None:
    message = _message(_task_body([JOB_ID]), headers={"task": TASK, "id": JOB_ID})
    assert consumer.screen_message(message, consumer.job_task_names(), 10_000) is None


def test_a_job_message_is_checked_by_its_task_header() -> None:
    body = _task_body(["not-a-uuid"])
    job = _message(body, headers={"task": TASK})
    refusal = consumer.screen_message(job, {TASK}, 10_000)
    assert refusal is not None and refusal.code == "BAD_ARGUMENTS"
    # The same body under a task name schedq does not own is Celery's to judge.
    assert consumer.screen_message(_message(body, headers={"task": "x.y"}), {TASK}, 10_000) is None


def test_the_screen_reads_the_content_type_and_the_limit() -> None:
    pickle = "application/x-python-serialize"
    pickled = _message(_task_body([JOB_ID]), headers={"task": TASK}, content_type=pickle)
    refusal = consumer.screen_message(pickled, {TASK}, 10_000)
    assert refusal is not None and refusal.code == "CONTENT_TYPE_REFUSED"
    body = _task_body([JOB_ID])
    big = _message(body, headers={"task": TASK})
    assert consumer.screen_message(big, {TASK}, len(body) - 1) == Refusal(
        "MESSAGE_TOO_LARGE", f"{len(body)} bytes > limit {len(body) - 1}"
    )
    assert consumer.screen_message(big, {TASK}, len(body)) is None


def test_a_message_without_headers_names_no_task() -> None:
    # Not one of our job messages (no task header): only the size limit applies to it.
    message = _message(b"[]", headers=None)
    assert consumer.screen_message(message, {TASK}, 10) is None
    assert consumer.poison_fields(message)["task_name"] is None


def test_a_message_without_a_body_is_screened_and_recorded_as_empty() -> None:
    message = _message(None, headers={"task": TASK})
    # No body counts as 0 bytes: within even a limit of 0, and then not JSON.
    refusal = consumer.screen_message(message, {TASK}, 0)
    assert refusal is not None and refusal.code == "MALFORMED_MESSAGE"
    assert consumer.poison_fields(message)["body"] == b""


def test_poison_fields_keep_the_routing_data_and_the_body() -> None:
    message = _message(
        b"{bad",
        headers={"task": TASK, "id": JOB_ID},
        delivery_info={"routing_key": "schedule", "exchange": "schedule"},
    )
    assert consumer.poison_fields(message) == {
        "body": b"{bad",
        "queue": "schedule",
        "task_name": TASK,
        "message_id": JOB_ID,
        "content_type": "application/json",
    }


def test_poison_fields_of_a_bare_message() -> None:
    message = Message(body=b"x", delivery_info=None, headers=None)
    assert consumer.poison_fields(message) == {
        "body": b"x",
        "queue": None,
        "task_name": None,
        "message_id": None,
        "content_type": None,
    }


def test_celery_refusals_name_the_poison_code_and_the_error_type() -> None:
    assert consumer.decode_refusal(ContentDisallowed("pickle")) == Refusal(
        "CONTENT_TYPE_REFUSED", "ContentDisallowed"
    )
    assert consumer.decode_refusal(DecodeError("bad json")) == Refusal(
        "MALFORMED_MESSAGE", "DecodeError"
    )
    assert consumer.invalid_task_refusal(ContentDisallowed("pickle")) == Refusal(
        "CONTENT_TYPE_REFUSED", "ContentDisallowed"
    )
    assert consumer.invalid_task_refusal(TypeError("args")) == Refusal("BAD_ARGUMENTS", "TypeError")
    assert consumer.unknown_message_refusal() == Refusal(
        "UNKNOWN_MESSAGE_FORMAT", "no task header or field"
    )
    assert consumer.unknown_task_refusal() == Refusal("UNKNOWN_TASK", "task name not registered")
