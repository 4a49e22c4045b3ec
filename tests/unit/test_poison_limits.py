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


@pytest.mark.parametrize(
    ("args", "kwargs", "detail"),
    [
        (5, {}, "arguments are not a list and a mapping"),
        ([str(uuid.uuid4())], [], "arguments are not a list and a mapping"),
        ([], {}, "0 positional and 0 named arguments"),
        ([1], {}, "argument is a int, not a job id"),
        (["not-a-uuid"], {}, "argument is a str, not a job id"),
    ],
)
def test_argument_refusals_say_what_was_wrong(args: object, kwargs: object, detail: str) -> None:
    body = json.dumps([args, kwargs, {}]).encode()
    assert poison.screen(body, JSON, TASK, {TASK}, LIMIT) == poison.Refusal("BAD_ARGUMENTS", detail)


@pytest.mark.parametrize(
    ("body", "content_type", "refusal"),
    [
        (b"{nope", JSON, poison.Refusal("MALFORMED_MESSAGE", "body is not valid JSON")),
        (b"\xff\xfe", JSON, poison.Refusal("MALFORMED_MESSAGE", "body is not valid JSON")),
        (b"[[], {}]", JSON, poison.Refusal("BAD_ARGUMENTS", "body is not [args, kwargs, embed]")),
        (b'{"a": 1}', JSON, poison.Refusal("BAD_ARGUMENTS", "body is not [args, kwargs, embed]")),
        (b"x", None, poison.Refusal("CONTENT_TYPE_REFUSED", "content type 'None'")),
        # The content type is quoted in the detail up to 60 characters, never more.
        (b"x", "t" * 60, poison.Refusal("CONTENT_TYPE_REFUSED", f"content type {'t' * 60!r}")),
        (b"x", "t" * 61, poison.Refusal("CONTENT_TYPE_REFUSED", f"content type {'t' * 60!r}")),
    ],
)
def test_body_refusals_say_what_was_wrong(
    body: bytes, content_type: str | None, refusal: poison.Refusal
) -> None:
    assert poison.screen(body, content_type, TASK, {TASK}, LIMIT) == refusal
