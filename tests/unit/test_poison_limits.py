"""Poison screening at the exact edge of each of its limits: the limit itself passes, one past
it is refused. Off-by-one errors live exactly there, so every case sits on a boundary."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from shared.settings import Settings
from worker.reliability import poison

TASK = "schedq.schedule.set_working_plan"
JSON = "application/json"
LIMIT = 1024


def _message(args: list[object], size: int | None = None, parts: int = 3) -> bytes:
    """A job message body, padded with JSON whitespace to exactly ``size`` bytes."""
    body = json.dumps([args, {}, {}, None][:parts]).encode()
    if size is not None:
        assert len(body) <= size
        body += b" " * (size - len(body))
        assert len(body) == size
    return body


def _code(body: bytes | str, task: str = TASK, limit: int = LIMIT) -> str | None:
    refusal = poison.screen(body, JSON, task, {TASK}, limit)
    return refusal.code if refusal else None


@pytest.mark.parametrize("task", [TASK, "celery.ping"], ids=["job-task", "other-task"])
def test_size_limit_accepts_exactly_the_limit_and_refuses_one_byte_more(task: str) -> None:
    job = str(uuid.uuid4())
    assert _code(_message([job], LIMIT), task) is None
    assert _code(_message([job], LIMIT + 1), task) == "MESSAGE_TOO_LARGE"
    assert _code(_message([job], LIMIT - 1), task) is None


def test_size_refusal_says_the_size_and_the_limit() -> None:
    refusal = poison.screen(_message([str(uuid.uuid4())], LIMIT + 1), JSON, TASK, {TASK}, LIMIT)
    assert refusal == poison.Refusal("MESSAGE_TOO_LARGE", f"{LIMIT + 1} bytes > limit {LIMIT}")


def test_the_configured_limit_is_the_one_applied() -> None:
    limit = Settings(max_message_bytes=2048).max_message_bytes
    job = str(uuid.uuid4())
    assert _code(_message([job], 2048), limit=limit) is None
    assert _code(_message([job], 2049), limit=limit) == "MESSAGE_TOO_LARGE"


def test_the_limit_setting_has_a_floor_of_1024_bytes() -> None:
    assert Settings(max_message_bytes=1024).max_message_bytes == 1024
    with pytest.raises(ValidationError):
        Settings(max_message_bytes=1023)


@pytest.mark.parametrize(("count", "code"), [(0, "BAD_ARGUMENTS"), (1, None), (2, "BAD_ARGUMENTS")])
def test_exactly_one_argument(count: int, code: str | None) -> None:
    args = [str(uuid.uuid4()) for _ in range(count)]
    assert _code(_message(args)) == code


@pytest.mark.parametrize(("parts", "code"), [(2, "BAD_ARGUMENTS"), (3, None), (4, "BAD_ARGUMENTS")])
def test_body_is_exactly_args_kwargs_embed(parts: int, code: str | None) -> None:
    assert _code(_message([str(uuid.uuid4())], parts=parts)) == code


def test_one_named_argument_is_refused_even_with_one_positional() -> None:
    body = json.dumps([[str(uuid.uuid4())], {"x": 1}, {}]).encode()
    assert _code(body) == "BAD_ARGUMENTS"
    refusal = poison.check_arguments([str(uuid.uuid4())], {"x": 1})
    assert refusal == poison.Refusal("BAD_ARGUMENTS", "1 positional and 1 named arguments")
