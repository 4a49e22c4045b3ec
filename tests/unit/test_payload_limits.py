"""Every list, string and map of every job payload has a cap, and so has a payload as a whole.

The JSON schema is walked rather than the models listed by hand, so a new kind or field
without a cap fails here. Formats the parser bounds itself (dates, times, uuids) and closed
choices (enums, literals) need no length.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.domain.plan import MAX_SHIFTS_PER_DAY
from shared.errors import MAX_VIOLATIONS, SchedqError, Violation, validation_failed
from shared.kinds import KINDS
from shared.ledger.submit import JobRequest, prepare
from shared.settings import Settings

BOUNDED_FORMATS = {"date", "date-time", "uuid", "time"}


def unbounded(node: Any, path: str, defs: dict[str, Any]) -> list[str]:
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in unbounded(item, f"{path}[{i}]", defs)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        return unbounded(defs[node["$ref"].rsplit("/", 1)[1]], path, defs)
    out: list[str] = []
    kind = node.get("type")
    closed = {"enum", "const"} & set(node) or node.get("format") in BOUNDED_FORMATS
    if kind == "string" and not closed and "maxLength" not in node:
        out.append(f"{path}: string without maxLength")
    if kind == "array" and "maxItems" not in node:
        out.append(f"{path}: array without maxItems")
    is_map = kind == "object" and isinstance(node.get("additionalProperties"), dict)
    if is_map and "maxProperties" not in node:
        out.append(f"{path}: map without maxProperties")
    for name, sub in node.get("properties", {}).items():
        out += unbounded(sub, f"{path}.{name}", defs)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
        if key in node:
            out += unbounded(node[key], f"{path}.{key}", defs)
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_list_string_and_map_of_the_payload_is_capped(kind: str) -> None:
    schema = KINDS[kind].payload.model_json_schema()
    assert unbounded(schema, kind, schema.get("$defs", {})) == []


def plan_of(shifts_per_day: int) -> dict[str, Any]:
    shifts = [{"start": "08:00", "end": "09:00"}] * shifts_per_day
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {
        "doctor_id": "d1",
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-01-05",
        "slot_minutes": 15,
        "weekdays": dict.fromkeys(days, shifts),
    }


def test_a_plan_with_too_many_shifts_is_refused_with_a_small_error() -> None:
    with pytest.raises(SchedqError) as info:
        prepare(Settings(), "t", JobRequest("set_working_plan", plan_of(MAX_SHIFTS_PER_DAY + 1)))
    err = info.value
    assert err.code == "VALIDATION_FAILED"
    assert {v["code"] for v in err.details["violations"]} == {"TOO_MANY_ITEMS"}
    assert len(json.dumps(err.as_dict())) < 10_000


def test_the_whole_payload_has_a_byte_cap_checked_before_parsing() -> None:
    settings = Settings(max_payload_bytes=1024)
    big = {"doctor_id": "d1", "padding": "x" * 2000}  # an unknown field: size is checked first
    with pytest.raises(SchedqError) as info:
        prepare(settings, "t", JobRequest("set_working_plan", big))
    assert info.value.code == "PAYLOAD_TOO_LARGE"
    assert info.value.details["limit_bytes"] == 1024
    assert info.value.details["size_bytes"] > 1024
    assert info.value.message == (
        "The payload is larger than the 1024-byte limit; nothing was stored."
    )


def test_a_payload_of_exactly_the_byte_cap_passes_the_size_check() -> None:
    payload = {"doctor_id": "d1", "padding": "x" * 1100}  # unknown field: refused after the check
    size = len(json.dumps(payload, separators=(",", ":")).encode())
    with pytest.raises(SchedqError) as at_cap:
        prepare(Settings(max_payload_bytes=size), "t", JobRequest("set_working_plan", payload))
    assert at_cap.value.code == "VALIDATION_FAILED"
    with pytest.raises(SchedqError) as over:
        prepare(Settings(max_payload_bytes=size - 1), "t", JobRequest("set_working_plan", payload))
    assert (over.value.code, over.value.details["size_bytes"]) == ("PAYLOAD_TOO_LARGE", size)


def test_the_idempotency_key_and_the_payload_are_checked_before_anything_else() -> None:
    # Limits the database and the encoders would otherwise fail on, with an error of their own.
    plan = plan_of(1)
    with pytest.raises(SchedqError) as long_key:
        prepare(Settings(), "t", JobRequest("set_working_plan", plan, idempotency_key="k" * 201))
    assert long_key.value.code == "IDEMPOTENCY_KEY_TOO_LONG"
    with pytest.raises(SchedqError) as nul:
        prepare(Settings(), "t", JobRequest("set_working_plan", {**plan, "doctor_id": "d\x00"}))
    assert (nul.value.code, nul.value.message) == (
        "PAYLOAD_NUL_CHARACTER",
        "Text in a payload may not contain NUL characters (at doctor_id).",
    )


def test_a_largest_legal_plan_fits_the_default_payload_cap() -> None:
    row = prepare(Settings(), "t", JobRequest("set_working_plan", plan_of(MAX_SHIFTS_PER_DAY)))
    assert len(row["payload"]) < Settings().max_payload_bytes


def test_validation_errors_list_the_first_violations_and_count_all() -> None:
    many = [Violation("SHIFT_OVERLAP", f"weekdays.mon[{i}]", "overlap") for i in range(10_000)]
    err = validation_failed(many)
    assert len(err.details["violations"]) == MAX_VIOLATIONS
    assert err.details["violation_count"] == 10_000
    assert err.details["violations"][0]["path"] == "weekdays.mon[0]"
    assert err.message.startswith("10000 problems found")


def test_a_failing_request_of_a_batch_is_named_by_its_index() -> None:
    from shared.ledger.submit import _prepare_all

    good = JobRequest("set_working_plan", plan_of(1))
    bad = JobRequest("set_working_plan", {**plan_of(1), "slot_minutes": 1})
    with pytest.raises(SchedqError) as info:
        _prepare_all(Settings(), "t", [good, good, bad, good])
    assert info.value.code == "VALIDATION_FAILED"
    assert info.value.details["request_index"] == 2


def test_a_batch_over_the_cap_is_refused_at_the_first_request_beyond_it() -> None:
    from shared.ledger.submit import _prepare_all

    good = JobRequest("set_working_plan", plan_of(1))
    with pytest.raises(SchedqError) as info:
        _prepare_all(Settings(max_batch_jobs=3), "t", iter([good] * 10**6))
    assert info.value.code == "BATCH_TOO_LARGE"
    assert info.value.details == {"limit": 3, "request_index": 3}
    assert info.value.message == "A batch holds at most 3 jobs; split it and submit the parts."
