"""Attacks on the HTTP gateway: oversized and malformed bodies, wrong content types, forged,
missing and revoked tokens, out-of-scope doctors, request floods. Each is refused with a
problem document, writes nothing, and leaves no token or patient data in logs or answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from producers.gateway.clients import revoke_client
from tests.gateway_support import (
    ApiUser,
    GatewayProcess,
    count_rows,
    http,
    make_user,
    plan_job,
)


@pytest.fixture
def api(gateway: GatewayProcess) -> Iterator[tuple[httpx.Client, ApiUser]]:
    user = make_user("submitter")
    with http(gateway.url, user) as client:
        yield client, user


def _problem(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = answer.json()
    assert body["code"] == code and body["status"] == status
    return body


def test_ten_megabyte_body_is_refused_declared_or_streamed(
    api: tuple[httpx.Client, ApiUser], uid: str
) -> None:
    client, _ = api
    job = plan_job(f"big-{uid}")
    job["payload"]["note"] = "x" * (10 * 1024 * 1024)  # type: ignore[index]
    body = json.dumps(job).encode()
    _problem(
        client.post("/v1/jobs", content=body, headers={"content-type": "application/json"}),
        413,
        "BODY_TOO_LARGE",
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap counts what arrives
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    _problem(
        client.post("/v1/jobs", content=chunks(), headers={"content-type": "application/json"}),
        413,
        "BODY_TOO_LARGE",
    )
    assert count_rows("jobs", "payload->>'doctor_id'", f"big-{uid}") == 0


def test_invalid_and_hostile_json(api: tuple[httpx.Client, ApiUser]) -> None:
    client, _ = api
    headers = {"content-type": "application/json"}
    for body in (b"{", b'{"kind": "set_working_plan", "payload": {}', b"\xff\xfe", b"[" * 200_000):
        _problem(client.post("/v1/jobs", content=body, headers=headers), 400, "BODY_NOT_JSON")
    not_object = client.post("/v1/jobs", content=b"[]", headers=headers)
    _problem(not_object, 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/xml", "application/fhir+json"],
)  # fmt: skip
def test_wrong_content_type_is_415(api: tuple[httpx.Client, ApiUser], content_type: str) -> None:
    client, _ = api
    answer = client.post(
        "/v1/jobs", content=json.dumps(plan_job("ct")), headers={"content-type": content_type}
    )
    _problem(answer, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unknown_kind_and_forged_fields(api: tuple[httpx.Client, ApiUser]) -> None:
    client, _ = api
    _problem(
        client.post("/v1/jobs", json={"kind": "drop_tables", "payload": {}}),
        422,
        "UNKNOWN_JOB_KIND",
    )
    forged = {**plan_job("forge"), "submitter": "chief-medical-officer", "status": "succeeded"}
    body = _problem(client.post("/v1/jobs", json=forged), 422, "VALIDATION_FAILED")
    assert {e["path"] for e in body["errors"]} == {"submitter", "status"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        # No bearer credentials at all: nothing to check.
        (None, "AUTH_REQUIRED"),
        ("", "AUTH_REQUIRED"),
        ("Bearer", "AUTH_REQUIRED"),
        ("Basic c2NoZWRxOnNjaGVkcQ==", "AUTH_REQUIRED"),
        # A bearer token that names no key.
        ("Bearer not-a-token", "AUTH_INVALID"),
        ("Bearer sq_0123456789abcdef_" + "A" * 43, "AUTH_INVALID"),  # well-formed, unknown id
        ("Bearer " + "x" * 5000, "AUTH_INVALID"),
    ],
)
def test_missing_and_bad_tokens_are_401(
    gateway: GatewayProcess, authorization: str | None, code: str, uid: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        answer = client.post("/v1/jobs", json=plan_job(f"tok-{uid}"), headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == code
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert count_rows("jobs", "payload->>'doctor_id'", f"tok-{uid}") == 0


def test_a_guessed_secret_for_a_real_key_id_is_401(gateway: GatewayProcess, uid: str) -> None:
    user = make_user("admin")
    key_id = user.token.split("_")[1]
    forged = f"sq_{key_id}_" + "B" * 43
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        answer = client.get("/v1/jobs", headers={"Authorization": f"Bearer {forged}"})
        in_query = client.get("/v1/jobs", params={"access_token": user.token})
    _problem(answer, 401, "AUTH_INVALID")
    _problem(in_query, 401, "AUTH_REQUIRED")  # tokens travel in the header only


def test_revoked_token_is_refused_at_once(gateway: GatewayProcess, uid: str) -> None:
    user = make_user("submitter")
    with http(gateway.url, user) as client:
        assert client.get("/v1/jobs").status_code == 200  # verified and remembered
        revoke_client(user.name, actor="tests")
        _problem(client.get("/v1/jobs"), 401, "AUTH_INVALID")
        _problem(client.post("/v1/jobs", json=plan_job(f"rev-{uid}")), 401, "AUTH_INVALID")
    assert count_rows("jobs", "payload->>'doctor_id'", f"rev-{uid}") == 0


def test_scope_violating_doctor_is_403_and_writes_nothing(
    gateway: GatewayProcess, uid: str
) -> None:
    user = make_user("submitter", ["set_working_plan"], [f"mine-{uid}-*"])
    with http(gateway.url, user) as client:
        body = _problem(
            client.post("/v1/jobs", json=plan_job(f"theirs-{uid}")), 403, "FORBIDDEN_SCOPE"
        )
        assert body["errors"] == [
            {
                "code": "DOCTOR_NOT_ALLOWED",
                "path": "payload.doctor_id",
                "message": "This doctor is outside your scope.",
            }
        ]
        # Look-alikes of an allowed id: wildcards match ids, they are not matched by them.
        # A "*" is no character of a doctor id at all (422); the others are ids outside the
        # scope (403).
        look_alikes = [
            (f"mine-{uid}", 403),
            (f"MINE-{uid}-1", 403),
            (f"mine-{uid}-*", 422),
            (f"xmine-{uid}-1", 403),
        ]
        for doctor, expected in look_alikes:
            job = plan_job(doctor)
            status = client.post("/v1/jobs", json=job).status_code
            assert status == expected, doctor
        holidays = {
            "kind": "set_holidays",
            "payload": {"calendar": "x", "dates": [], "doctor_ids": [f"mine-{uid}-1"]},
        }
        _problem(client.post("/v1/jobs", json=holidays), 403, "FORBIDDEN_SCOPE")
    assert count_rows("jobs", "submitter", user.name) == 0
    assert count_rows("audit_log", "actor", user.name) == 0


def test_patient_data_never_echoed_in_errors_or_logs(
    api: tuple[httpx.Client, ApiUser], gateway: GatewayProcess, uid: str
) -> None:
    client, user = api
    secret_name = f"Jane Doe {uid}"
    booking = {
        "kind": "book_appointment",
        "payload": {
            "doctor_id": f"p-{uid}",
            "starts_at": "2026-12-07T09:00:00+01:00",
            "ends_at": "not a time",
            "patient_ref": secret_name,
        },
    }
    answer = client.post("/v1/jobs", json=booking)
    _problem(answer, 422, "VALIDATION_FAILED")
    assert secret_name not in answer.text and "not a time" not in answer.text
    assert secret_name not in gateway.log()
    assert user.token not in gateway.log()


def test_odd_paths_and_methods_are_problems_not_errors(api: tuple[httpx.Client, ApiUser]) -> None:
    client, _ = api
    odd = [
        # An encoded "/" does not climb out of the route: no such doctor resource.
        ("/v1/doctors/..%2F..%2Fetc/availability?from=2026-12-07&to=2026-12-08", 404,
         "RESOURCE_NOT_FOUND"),
        ("/v1/jobs/%00", 404, "JOB_NOT_FOUND"),
        ("/v1/jobs/" + "9" * 200, 422, "VALIDATION_FAILED"),  # longer than any job id
        ("/v1/dead-letters/-1/replay", 405, "METHOD_NOT_ALLOWED"),  # replay is a POST
    ]  # fmt: skip
    for path, status, code in odd:
        answer = client.get(path)
        assert (answer.status_code, answer.json()["code"]) == (status, code), path
        assert answer.headers["content-type"] == "application/problem+json"
    _problem(client.delete("/v1/jobs"), 405, "METHOD_NOT_ALLOWED")
    answer = client.post("/v1/jobs", json=plan_job("k"), headers={"Idempotency-Key": "a\tb"})
    _problem(answer, 422, "VALIDATION_FAILED")


def test_flooding_client_gets_429_with_retry_after_others_do_not(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    server = GatewayProcess(tmp_path, env={"SCHEDQ_API_RATE_LIMIT": "5/minute"})
    try:
        flooder, bystander = make_user("reader"), make_user("reader")
        with http(server.url, flooder) as client:
            statuses = [client.get("/v1/jobs").status_code for _ in range(8)]
            limited = client.get("/v1/jobs")
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
        body = _problem(limited, 429, "RATE_LIMITED")
        assert body["retryable"] is True
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        with http(server.url, bystander) as client:
            assert client.get("/v1/jobs").status_code == 200
        # A batch costs one hit per job: 6 jobs do not fit in a fresh 5/minute budget.
        submitter = make_user("submitter")
        with http(server.url, submitter) as client:
            jobs = [plan_job(f"flood-{i}-{submitter.name}") for i in range(6)]
            _problem(client.post("/v1/jobs:batch", json={"jobs": jobs}), 429, "RATE_LIMITED")
        assert count_rows("jobs", "submitter", submitter.name) == 0
    finally:
        server.stop()


def test_nul_characters_are_invalid_input_not_server_errors(
    api: tuple[httpx.Client, ApiUser], uid: str
) -> None:
    client, _ = api
    listed = client.get("/v1/jobs", params={"kind": "set_working_plan\x00", "doctor": "a\x00"})
    _problem(listed, 422, "VALIDATION_FAILED")
    job = {**plan_job(f"nul-{uid}"), "correlation_id": "req\u0000-1"}
    _problem(client.post("/v1/jobs", json=job), 422, "VALIDATION_FAILED")
    assert count_rows("jobs", "payload->>'doctor_id'", f"nul-{uid}") == 0
