"""The HTTP gateway end to end: a real uvicorn process, PostgreSQL, Redis and a real worker."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from sqlalchemy import select

from shared.db.jobs import AuditEntry, Job
from shared.db.uow import UnitOfWork
from tests.gateway_support import (
    GatewayProcess,
    count_rows,
    http,
    make_user,
    plan_job,
    wait_terminal,
    working_plan,
)
from tests.workers import WorkerProcess


def test_submitted_job_runs_and_is_read_back_as_the_client(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    user = make_user("submitter")
    with http(gateway.url, user) as api:
        answer = api.post("/v1/jobs", json={**plan_job(f"d-{uid}"), "correlation_id": uid})
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert answer.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["submitter"] == user.name
        final = wait_terminal(api, job["id"])
    assert final["status"] == "succeeded", worker.log()
    assert final["result"] == {
        "doctor_id": f"d-{uid}", "valid_from": "2026-12-01", "shifts": 1, "schedule_version": 1
    }  # fmt: skip
    with UnitOfWork() as uow:
        rows = uow.session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(
                AuditEntry.job_id == uuid.UUID(job["id"])
            )
        ).all()
    # The gateway's "accepted" row and the worker's change, both naming the client.
    assert (user.name, "accepted") in rows
    assert {actor for actor, _action in rows} == {user.name}
    assert len(rows) == 2


def test_the_submitter_is_the_client_whatever_the_body_says(
    gateway: GatewayProcess, uid: str
) -> None:
    user = make_user("submitter")
    with http(gateway.url, user) as api:
        forged = {**plan_job(f"f-{uid}"), "submitter": "chief-medical-officer"}
        assert api.post("/v1/jobs", json=forged).status_code == 422
        job = api.post("/v1/jobs", json=plan_job(f"f-{uid}")).json()
    with UnitOfWork() as uow:
        stored = uow.session.get(Job, uuid.UUID(job["id"]))
        assert stored is not None and stored.submitter == user.name


def test_idempotency_key_same_body_same_job_other_body_409(
    gateway: GatewayProcess, uid: str
) -> None:
    user, other = make_user("submitter"), make_user("submitter")
    key = {"Idempotency-Key": f"key-{uid}"}
    with http(gateway.url, user) as api:
        first = api.post("/v1/jobs", json=plan_job(f"i-{uid}"), headers=key)
        again = api.post("/v1/jobs", json=plan_job(f"i-{uid}"), headers=key)
        clash = api.post("/v1/jobs", json=plan_job(f"j-{uid}"), headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    assert clash.json()["code"] == "IDEMPOTENCY_CONFLICT"
    # A batch under a used key: all or nothing, and the conflicting index is named.
    with http(gateway.url, user) as api:
        batch_key = {"Idempotency-Key": f"batch-{uid}"}
        jobs = [plan_job(f"k{i}-{uid}") for i in range(3)]
        assert api.post("/v1/jobs:batch", json={"jobs": jobs}, headers=batch_key).is_success
        jobs[1] = plan_job(f"k9-{uid}")
        refused = api.post("/v1/jobs:batch", json={"jobs": jobs}, headers=batch_key)
    assert refused.status_code == 409 and refused.json()["index"] == 1
    assert count_rows("jobs", "payload->>'doctor_id'", f"k9-{uid}") == 0
    # Keys are per client: another client's same key is a new job, not a leak of the first.
    with http(gateway.url, other) as api:
        theirs = api.post("/v1/jobs", json=plan_job(f"i-{uid}"), headers=key)
    assert theirs.status_code == 202
    assert theirs.json()["id"] != first.json()["id"]
    assert count_rows("jobs", "payload->>'doctor_id'", f"j-{uid}") == 0


def test_invalid_job_reports_every_violation_with_ledger_codes_and_paths(
    gateway: GatewayProcess, uid: str
) -> None:
    bad = working_plan(f"v-{uid}") | {"slot_minutes": "often", "extra": 1}
    del bad["time_zone"]
    with http(gateway.url, make_user("submitter")) as api:
        answer = api.post("/v1/jobs", json={"kind": "set_working_plan", "payload": bad})
        unknown = api.post("/v1/jobs", json={"kind": "launch_rocket", "payload": {}})
        shape = api.post("/v1/jobs", json={"payload": [], "surprise": True})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert problem["category"] == "VALIDATION" and problem["severity"] == "LOW"
    assert {(e["code"], e["path"]) for e in problem["errors"]} == {
        ("FIELD_REQUIRED", "payload.time_zone"),
        ("VALUE_INVALID", "payload.slot_minutes"),
        ("FIELD_UNKNOWN", "payload.extra"),
    }
    assert unknown.status_code == 422 and unknown.json()["code"] == "UNKNOWN_JOB_KIND"
    assert {(e["code"], e["path"]) for e in shape.json()["errors"]} == {
        ("FIELD_REQUIRED", "kind"),
        ("TYPE_INVALID", "payload"),
        ("FIELD_UNKNOWN", "surprise"),
    }
    assert count_rows("jobs", "payload->>'doctor_id'", f"v-{uid}") == 0


def test_batch_is_all_or_nothing_and_names_the_failing_index(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    good = [plan_job(f"b{i}-{uid}") for i in range(3)]
    broken = [*good[:2], {"kind": "set_working_plan", "payload": {"doctor_id": f"b2-{uid}"}}]
    with http(gateway.url, make_user("submitter")) as api:
        refused = api.post("/v1/jobs:batch", json={"jobs": broken})
        assert refused.status_code == 422
        assert refused.json()["index"] == 2
        assert {e["path"] for e in refused.json()["errors"]} >= {"jobs[2].payload.time_zone"}
        assert count_rows("jobs", "payload->>'doctor_id'", f"-{uid}") == 0
        accepted = api.post("/v1/jobs:batch", json={"jobs": good})
        assert accepted.status_code == 202, accepted.text
        ids = [j["id"] for j in accepted.json()["jobs"]]
        assert len(set(ids)) == 3
        assert all(wait_terminal(api, i)["status"] == "succeeded" for i in ids), worker.log()


def test_batch_over_the_cap_is_refused_before_anything_is_written(
    gateway: GatewayProcess, uid: str
) -> None:
    jobs = [plan_job(f"cap{i}-{uid}") for i in range(501)]
    with http(gateway.url, make_user("submitter")) as api:
        answer = api.post("/v1/jobs:batch", json={"jobs": jobs})
    assert answer.status_code == 422
    assert [(e["code"], e["path"]) for e in answer.json()["errors"]] == [("TOO_MANY_ITEMS", "jobs")]
    assert count_rows("jobs", "payload->>'doctor_id'", f"-{uid}") == 0


def test_listing_filters_pages_and_shows_only_the_clients_own_jobs(
    gateway: GatewayProcess, uid: str
) -> None:
    mine, theirs = make_user("submitter"), make_user("submitter")
    with http(gateway.url, theirs) as api:
        api.post("/v1/jobs", json=plan_job(f"l-{uid}"))
    with http(gateway.url, mine) as api:
        created = [api.post("/v1/jobs", json=plan_job(f"l{i}-{uid}")).json() for i in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "kind": "set_working_plan"}
            params |= {"cursor": cursor} if cursor else {}
            page = api.get("/v1/jobs", params=params).json()
            seen += [j["id"] for j in page["items"]]
            assert len(page["items"]) <= 2
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [j["id"] for j in created]
        one = api.get("/v1/jobs", params={"doctor": f"l3-{uid}"}).json()["items"]
        assert [j["id"] for j in one] == [created[3]["id"]]
        since = api.get("/v1/jobs", params={"since": created[4]["created_at"]}).json()["items"]
        assert [j["id"] for j in since] == [created[4]["id"]]
        assert api.get("/v1/jobs", params={"status": "dead"}).json()["items"] == []
        bad = api.get("/v1/jobs", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "CURSOR_INVALID"


def test_page_size_is_capped_by_the_server(gateway: GatewayProcess, uid: str) -> None:
    user = make_user("submitter")
    with http(gateway.url, user) as api:
        jobs = [plan_job(f"p{i}-{uid}") for i in range(205)]
        assert api.post("/v1/jobs:batch", json={"jobs": jobs}).status_code == 202
        page = api.get("/v1/jobs", params={"limit": 5000}).json()
    assert len(page["items"]) == 200
    assert page["next_cursor"] is not None


def test_access_log_names_client_and_route_never_payload_or_ids(
    gateway: GatewayProcess, uid: str
) -> None:
    user = make_user("submitter")
    patient = f"patient-{uid}"
    booking = {
        "kind": "book_appointment",
        "payload": {
            "doctor_id": f"a-{uid}",
            "appointment_id": str(uuid.uuid4()),
            "patient_ref": patient,
            "starts_at": "2026-12-07T09:00:00+01:00",
            "ends_at": "2026-12-07T09:15:00+01:00",
        },
    }
    with http(gateway.url, user) as api:
        job = api.post("/v1/jobs", json=booking)
        assert job.status_code == 202, job.text
        api.get(f"/v1/jobs/{job.json()['id']}")
        api.get("/v1/jobs", params={"doctor": f"a-{uid}"})
        metrics = api.get("/metrics").text
    log = gateway.log()
    lines = [json.loads(line) for line in log.splitlines() if '"schedq.gateway.access"' in line]
    mine = [line for line in lines if line.get("client") == user.name]
    assert {line["route"] for line in mine} >= {"/v1/jobs"}
    assert patient not in log and f"a-{uid}" not in log
    assert patient not in metrics and f"a-{uid}" not in metrics
    assert 'route="/v1/jobs/{job_id}"' in metrics
    # Job ids are no patient data (the ledger's publish log names them), but the access log
    # and metrics name route templates only.
    assert job.json()["id"] not in json.dumps(lines) and job.json()["id"] not in metrics


def test_probes_and_metrics(gateway: GatewayProcess) -> None:
    with http(gateway.url) as api:
        assert api.get("/livez").json() == {"status": "ok"}
        assert api.get("/readyz").json() == {"status": "ready"}
        api.get("/v1/jobs/00000000-0000-0000-0000-000000000000")  # 401, by template
        api.get("/v1/no/such/path/123")
        metrics = api.get("/metrics").text
    assert 'schedq_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics
    assert 'route="/v1/jobs/{job_id}",status="401"' in metrics
    assert 'route="unmatched",status="404"' in metrics
    assert "00000000-0000" not in metrics and "/v1/no/such" not in metrics


def test_clients_cli_creates_lists_rotates_and_revokes(gateway: GatewayProcess, uid: str) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "schedq.cli.main", "clients", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    name = f"ehr-{uid}"
    made = cli("create", name, "--role", "submitter", "--kinds", "set_working_plan",
               "--doctors", f"c-{uid}-*", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    listed = json.loads(cli("list", "--json").stdout)
    entry = next(c for c in listed if c["name"] == name)
    assert entry["kinds"] == ["set_working_plan"] and entry["doctors"] == [f"c-{uid}-*"]
    assert token not in json.dumps(listed)
    with UnitOfWork() as uow:
        from shared.db.clients import ApiClient

        row = uow.session.scalar(select(ApiClient).where(ApiClient.name == name))
        assert row is not None and row.token_hash.startswith("$argon2")
        assert token not in row.token_hash
    assert cli("create", name, "--role", "reader").returncode == 2  # names are unique

    def submit(tok: str) -> int:
        with http(gateway.url) as api:
            headers = {"Authorization": f"Bearer {tok}"}
            return api.post("/v1/jobs", json=plan_job(f"c-{uid}-1"), headers=headers).status_code

    assert submit(token) == 202
    rotated = json.loads(cli("rotate", name, "--json").stdout)["token"]
    assert submit(token) == 401
    assert submit(rotated) == 202
    assert cli("revoke", name).returncode == 0
    assert submit(rotated) == 401
    assert cli("revoke", f"nobody-{uid}").returncode == 2
