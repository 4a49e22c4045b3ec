"""Checks on a submitted request that the database or the JSON encoder would otherwise fail
on with a driver error or a RecursionError: key length, nesting depth, NUL characters.

They run before anything is written, so a producer gets a stable code instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.errors import error

MAX_IDEMPOTENCY_KEY = 200  # jobs.idempotency_key is VARCHAR(200)
# No payload shape nests deeper than a handful of levels; this bounds the walk (and every
# recursive encoder after it) far below Python's recursion limit.
MAX_DEPTH = 32


def check_request(idempotency_key: str | None, payload: Any) -> None:
    if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise error(
            "IDEMPOTENCY_KEY_TOO_LONG", limit=MAX_IDEMPOTENCY_KEY, length=len(idempotency_key)
        )
    if idempotency_key is not None and "\x00" in idempotency_key:
        raise error("PAYLOAD_NUL_CHARACTER", path="idempotency_key")
    _walk(payload, "", 0)


def _walk(value: Any, path: str, depth: int) -> None:
    # Recursive: the depth cap keeps it far below the interpreter's recursion limit.
    if depth > MAX_DEPTH:
        raise error("PAYLOAD_TOO_DEEP", limit=MAX_DEPTH)
    if isinstance(value, str):
        if "\x00" in value:
            raise error("PAYLOAD_NUL_CHARACTER", path=path or "payload")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                raise error("PAYLOAD_NUL_CHARACTER", path=path or "payload")
            _walk(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", depth + 1)
