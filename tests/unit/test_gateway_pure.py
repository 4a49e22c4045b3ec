"""The gateway's pure parts: error -> HTTP status and problem/OperationOutcome, doctor patterns
as SQL LIKE, cursors and event ids, the FHIR resources it builds (validated with fhir.resources),
and the OpenAPI document's error shapes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from fnmatch import fnmatchcase

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from hypothesis import given
from hypothesis import strategies as st

from producers.gateway.events import event_id, parse_event_id
from producers.gateway.fhir import resources
from producers.gateway.job_queries import decode_cursor, encode_cursor, like_pattern
from producers.gateway.problems import operation_outcome, problem_body, status_of
from shared.errors import CATALOGUE, SchedqError, Violation, error, validation_failed

EXPECTED_STATUS = {
    "AUTH_INVALID": 401, "AUTH_REQUIRED": 401, "BODY_NOT_JSON": 400, "BODY_TOO_LARGE": 413,
    "FORBIDDEN_ROLE": 403, "FORBIDDEN_SCOPE": 403, "IDEMPOTENCY_CONFLICT": 409,
    "INTERNAL_ERROR": 500, "METHOD_NOT_ALLOWED": 405, "NOT_READY": 503, "RATE_LIMITED": 429,
    "RESOURCE_NOT_FOUND": 404, "UNKNOWN_JOB_KIND": 422, "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_FAILED": 422,
}  # fmt: skip
FIELDS = {"role": "x", "limit": 1, "expected": "x", "reason": "x", "seconds": 1, "summary": "x",
          "kind": "x", "name": "x", "known": "x"}  # fmt: skip


@pytest.mark.parametrize("code", sorted(EXPECTED_STATUS))
def test_every_gateway_code_has_its_status(code: str) -> None:
    assert code in CATALOGUE
    assert status_of(error(code, **FIELDS)) == EXPECTED_STATUS[code]


def test_problem_carries_code_category_severity_and_every_violation() -> None:
    err = validation_failed([Violation("FIELD_REQUIRED", "payload.a", "Field required"),
                             Violation("VALUE_FORMAT", "payload.b", "Bad format")])  # fmt: skip
    err.details["index"] = 3
    body = problem_body(err)
    assert body["status"] == 422 and body["code"] == "VALIDATION_FAILED"
    assert (body["category"], body["severity"]) == ("VALIDATION", "LOW")
    assert [e["path"] for e in body["errors"]] == ["payload.a", "payload.b"]
    assert body["index"] == 3
    outcome = OperationOutcome.model_validate(operation_outcome(err))
    assert [i.expression for i in outcome.issue] == [["payload.a"], ["payload.b"]]
    assert {i.code for i in outcome.issue} == {"invalid"}


def test_an_unknown_not_found_code_is_404_and_other_errors_follow_their_category() -> None:
    assert status_of(SchedqError("DOCTOR_NOT_FOUND", "x")) == 404
    conflict = OperationOutcome.model_validate(operation_outcome(error("IDEMPOTENCY_CONFLICT")))
    assert conflict.issue[0].code == "conflict"
    assert conflict.issue[0].details.coding[0].code == "IDEMPOTENCY_CONFLICT"  # type: ignore[index,union-attr]


@given(st.from_regex(r"^[A-Za-z0-9._:*?-]{1,20}$", fullmatch=True), st.text(
    alphabet=st.sampled_from("ab_%.:-*?\\"), max_size=12))  # fmt: skip
def test_doctor_patterns_mean_the_same_in_sql_like_as_in_fnmatch(pattern: str, doctor: str) -> None:
    like = like_pattern(pattern)
    # SQL LIKE with '\\' escapes, evaluated by a regex translation of its rules.
    regex, i = "", 0
    while i < len(like):
        c = like[i]
        if c == "\\":
            regex += re.escape(like[i + 1])
            i += 2
            continue
        regex += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    assert bool(re.fullmatch(regex, doctor, re.S)) == fnmatchcase(doctor, pattern)


@given(st.integers(min_value=0, max_value=2**62))
def test_cursors_round_trip(seq: int) -> None:
    assert decode_cursor(encode_cursor(seq)) == seq


@pytest.mark.parametrize(
    "bad", ["", "x", "c2VxOi0x", "!!!!", encode_cursor(2**63), "c2VxOjEyMzQ1Njc4OTAxMjM0NTY3ODkw"]
)
def test_bad_cursors_are_validation_errors(bad: str) -> None:
    with pytest.raises(SchedqError) as caught:
        decode_cursor(bad)
    assert caught.value.details["violations"][0]["code"] == "CURSOR_INVALID"


def test_event_ids_round_trip_and_garbage_is_ignored() -> None:
    at = datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=UTC)
    assert parse_event_id(event_id(at, 42)) == (at, 42)
    for bad in (None, "", "x-1", "1-x", "-", "1" * 30 + "-1"):
        assert parse_event_id(bad) is None


def test_fhir_resources_are_valid_r4() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    Schedule.model_validate(resources.schedule("dr-1", "Europe/Berlin", now))
    free = {"start": "2026-12-07T07:00:00+00:00", "end": "2026-12-07T07:15:00+00:00",
            "remaining": 2}  # fmt: skip
    slot = Slot.model_validate(resources.slot("dr_with:odd-chars", free))
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", slot.id or "")
    Appointment.model_validate(
        resources.appointment(
            "5b0e7c1e-3a0c-4b8e-9a55-2f4f7f9d1a01", "dr-1", "booked", now, now, "ehr:4711"
        )
    )
    bundle = resources.searchset(
        [resources.slot("dr-1", free)], "http://x/fhir/r4", {"self": "http://x/fhir/r4/Slot"}, 1
    )
    assert Bundle.model_validate(bundle).total == 1
    CapabilityStatement.model_validate(resources.capability_statement("http://x/fhir/r4", now))


def test_openapi_documents_problems_for_v1_and_outcomes_for_fhir() -> None:
    from producers.gateway.app import create_app

    document = create_app().openapi()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert operation.get("description") or path in ("/livez", "/readyz", "/metrics")
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    media = "application/fhir+json" if path.startswith("/fhir/") else (
                        "application/problem+json")  # fmt: skip
                    assert list(answer["content"]) == [media], (path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
