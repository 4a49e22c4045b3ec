"""Gateway reads against a real worker: availability with ETag/304/gzip, the ICS feed, dead
letters and their replay, and the Server-Sent Events stream of a client's job outcomes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
from sqlalchemy import select

from producers.client import Client
from shared.db.jobs import AuditEntry
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from tests import probe_kinds
from tests.gateway_support import GatewayProcess, http, make_user, plan_job, wait_terminal
from tests.workers import WorkerProcess

probe_kinds.install()


def _planned_doctor(gateway: GatewayProcess, doctor: str) -> None:
    with http(gateway.url, make_user("submitter", doctors=[doctor])) as api:
        job = api.post("/v1/jobs", json=plan_job(doctor)).json()
        assert wait_terminal(api, job["id"])["status"] == "succeeded"


def test_availability_etag_follows_the_schedule_version(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    doctor = f"av-{uid}"
    _planned_doctor(gateway, doctor)
    reader = make_user("reader", doctors=[f"av-{uid}*"])
    week = {"from": "2026-12-07", "to": "2026-12-08"}
    with http(gateway.url, reader) as api:
        first = api.get(f"/v1/doctors/{doctor}/availability", params=week)
        assert first.status_code == 200, first.text
        assert len(first.json()["slots"]) == 16
        etag = first.headers["etag"]
        same = api.get(
            f"/v1/doctors/{doctor}/availability", params=week, headers={"If-None-Match": etag}
        )
        assert same.status_code == 304 and same.content == b""
        assert same.headers["etag"] == etag
        # A schedule change (the plan again, another shift) bumps the version: a new ETag.
        submitter = make_user("submitter", doctors=[doctor])
        with http(gateway.url, submitter) as sub:
            again = plan_job(doctor)
            again["payload"]["weekdays"] = {"mon": [{"start": "08:00", "end": "10:00"}]}  # type: ignore[index]
            job = sub.post("/v1/jobs", json=again).json()
            assert wait_terminal(sub, job["id"])["status"] == "succeeded"
        changed = api.get(
            f"/v1/doctors/{doctor}/availability", params=week, headers={"If-None-Match": etag}
        )
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert len(changed.json()["slots"]) == 8
        # Large answers are gzipped for clients that accept it.
        wide = api.get(
            f"/v1/doctors/{doctor}/availability",
            params={"from": "2026-12-01", "to": "2026-12-31"},
            headers={"Accept-Encoding": "gzip"},
        )
        assert wide.headers["content-encoding"] == "gzip"
        assert len(wide.json()["slots"]) == 4 * 4 * 2
        bad = api.get(
            f"/v1/doctors/{doctor}/availability", params={"from": "2026-12-08", "to": "2026-12-07"}
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "to"
        outside = api.get("/v1/doctors/elsewhere/availability", params=week)
        assert outside.status_code == 403 and outside.json()["code"] == "FORBIDDEN_SCOPE"


def test_calendar_feed_of_a_doctor(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    doctor = f"ics-{uid}"
    _planned_doctor(gateway, doctor)
    with http(gateway.url, make_user("reader", doctors=[doctor])) as api:
        feed = api.get(f"/v1/doctors/{doctor}/calendar.ics")
        missing = api.get(f"/v1/doctors/{doctor}x/calendar.ics")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert feed.text.startswith("BEGIN:VCALENDAR")
    assert missing.status_code == 403  # outside the reader's patterns, existing or not


def test_operator_lists_and_replays_dead_letters_once(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    client = Client(submitter=f"probe-{uid}")
    dead = client.submit("test_touch", {"doctor_id": f"dl-{uid}", "fail_with": "unexpected"})
    assert client.wait(dead.id, timeout=30).status == "dead", worker.log()
    operator = make_user("operator")
    with http(gateway.url, operator) as api:
        letters = api.get("/v1/dead-letters", params={"kind": "test_touch"}).json()["items"]
        letter = next(item for item in letters if item["job_id"] == dead.id)
        assert letter["error_code"] == "UNEXPECTED_ERROR" and "payload" not in letter
        first = api.post(f"/v1/dead-letters/{letter['id']}/replay")
        second = api.post(f"/v1/dead-letters/{letter['id']}/replay")
        missing = api.post("/v1/dead-letters/999999999/replay")
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "replayed"
    assert second.json() == {**first.json(), "outcome": "already_replayed"}
    assert missing.status_code == 404
    assert client.wait(first.json()["new_job_id"], timeout=30).status == "dead"
    with UnitOfWork() as uow:
        actions = uow.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.actor == operator.name, AuditEntry.entity == "dead_letter"
            )
        ).all()
        assert sorted(actions) == ["replay:already_replayed", "replay:replayed"]
        assert uow.session.scalar(
            select(DeadLetter.replayed_as).where(DeadLetter.id == letter["id"])
        ) == uuid.UUID(first.json()["new_job_id"])


def _events(
    gateway: GatewayProcess, token: str, last_id: str | None = None
) -> Iterator[dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    with (
        httpx.Client(base_url=gateway.url, timeout=httpx.Timeout(30, read=20)) as api,
        api.stream("GET", "/v1/events", headers=headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if not line:
                if "data" in event:
                    yield event
                event = {}
                continue
            field, _, value = line.partition(": ")
            if field in ("id", "event", "data"):
                event[field] = value


def test_events_stream_the_clients_own_outcomes_and_resume(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    user, other = make_user("submitter"), make_user("submitter")
    stream = _events(gateway, user.token)
    with http(gateway.url, other) as api:
        api.post("/v1/jobs", json=plan_job(f"ev-other-{uid}"))
    with http(gateway.url, user) as api:
        good = api.post("/v1/jobs", json=plan_job(f"ev-{uid}")).json()
        bad_plan = plan_job(f"ev-bad-{uid}")
        bad_plan["payload"]["weekdays"] = {"mon": [{"start": "17:00", "end": "09:00"}]}  # type: ignore[index]
        bad = api.post("/v1/jobs", json=bad_plan).json()
    seen: dict[str, dict[str, object]] = {}
    ids: dict[str, str] = {}
    deadline = time.monotonic() + 30
    for event in stream:
        data = json.loads(event["data"])
        assert event["event"] == "job"
        seen[data["id"]] = data
        ids[data["id"]] = event["id"]
        if {good["id"], bad["id"]} <= set(seen) or time.monotonic() > deadline:
            break
    stream.close()
    assert set(seen) == {good["id"], bad["id"]}, worker.log()  # never the other client's job
    assert seen[good["id"]]["status"] == "succeeded"
    assert seen[bad["id"]]["status"] == "rejected"
    assert seen[bad["id"]]["error"]["code"] == "VALIDATION_FAILED"  # type: ignore[index]
    # Resume after the first event: only what followed it comes again.
    first, second = sorted(ids.values(), key=lambda i: tuple(int(p) for p in i.split("-")))
    resumed = _events(gateway, user.token, last_id=first)
    again = next(resumed)
    resumed.close()
    assert again["id"] == second
