"""Pydantic helpers for job payload shapes: producer and worker parse the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import SchedqError, Violation, validation_failed


class Payload(BaseModel):
    """Base for every job payload: unknown fields are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "$"


_CODES = {
    "missing": "FIELD_REQUIRED",
    "extra_forbidden": "FIELD_UNKNOWN",
    "string_too_long": "VALUE_TOO_LONG",
    "too_long": "TOO_MANY_ITEMS",
    "too_short": "TOO_FEW_ITEMS",
    "string_pattern_mismatch": "VALUE_FORMAT",
    "literal_error": "VALUE_NOT_ALLOWED",
    "enum": "VALUE_NOT_ALLOWED",
    "timezone_aware": "OFFSET_REQUIRED",
    "timezone_naive": "OFFSET_NOT_ALLOWED",
}


def shape_violations(exc: ValidationError) -> list[Violation]:
    """Translate pydantic's errors into our stable codes; messages never echo the raw input."""
    return violations_of(exc.errors(include_url=False, include_input=False))


def violations_of(errors: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """pydantic error dicts (a ValidationError's or FastAPI's) as violations with our codes."""
    out: list[Violation] = []
    for err in errors:
        kind = str(err.get("type", "value_error"))
        code = _CODES.get(kind, "TYPE_INVALID" if kind.endswith("_type") else "VALUE_INVALID")
        out.append(Violation(code=code, path=_path(tuple(err.get("loc", ()))), message=err["msg"]))
    return out


P = TypeVar("P", bound="Payload")


def parse_payload(model: type[P], data: Any) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(shape_violations(exc)) from None


def schema_error(message: str) -> SchedqError:
    return validation_failed([Violation(code="PAYLOAD_NOT_OBJECT", path="$", message=message)])
