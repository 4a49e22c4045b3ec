"""The authorization matrix: each role against each endpoint, in and out of its scope.

Roles: a submitter limited to two kinds and the doctors ``in-<uid>*``, a reader of the same
doctors, an operator and an admin. Every cell names the exact status, and a refusal its reason
(role or scope); every refused write is checked to have written nothing (no job row, no audit
row).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from producers.client import Client
from tests import probe_kinds
from tests.gateway_support import (
    ApiUser,
    GatewayProcess,
    count_rows,
    make_user,
    plan_job,
    wait_terminal,
)
from tests.workers import WorkerProcess

probe_kinds.install()
ROLES = ("submitter", "reader", "operator", "admin")


@dataclass
class World:
    uid: str
    users: dict[str, ApiUser]
    inside: str
    outside: str
    own_job: str
    other_job: str
    letter: int

    def job(self, doctor: str) -> dict[str, Any]:
        return plan_job(doctor)


@pytest.fixture(scope="module")
def world(gateway: GatewayProcess, worker: WorkerProcess) -> Iterator[World]:
    uid = uuid.uuid4().hex[:8]
    inside, outside = f"in-{uid}", f"out-{uid}"
    users = {
        "submitter": make_user(
            "submitter", ["set_working_plan", "book_appointment"], [f"in-{uid}*"], tag=uid
        ),
        "reader": make_user("reader", doctors=[f"in-{uid}*"], tag=uid),
        "operator": make_user("operator", tag=uid),
        "admin": make_user("admin", tag=uid),
    }
    other = Client(submitter=f"other-{uid}")
    other_job = other.submit("set_working_plan", plan_job(outside)["payload"])
    with httpx.Client(base_url=gateway.url, headers=users["submitter"].headers) as api:
        own = api.post("/v1/jobs", json=plan_job(inside)).json()
        assert wait_terminal(api, own["id"])["status"] == "succeeded"
    assert other.wait(other_job.id).status == "succeeded"
    dead = other.submit("test_touch", {"doctor_id": f"dl-{uid}", "fail_with": "unexpected"})
    assert other.wait(dead.id).status == "dead", worker.log()
    from sqlalchemy import select

    from shared.db.reliability import DeadLetter
    from shared.db.uow import UnitOfWork

    with UnitOfWork() as uow:
        letter = uow.session.scalar(
            select(DeadLetter.id).where(DeadLetter.job_id == uuid.UUID(dead.id))
        )
    assert letter is not None
    yield World(uid, users, inside, outside, own["id"], other_job.id, letter)


Call = Callable[[httpx.Client, World], httpx.Response]
WEEK = {"from": "2026-12-07", "to": "2026-12-08"}


def _batch(api: httpx.Client, w: World) -> httpx.Response:
    return api.post("/v1/jobs:batch", json={"jobs": [w.job(w.inside), w.job(w.outside)]})


def _sync(api: httpx.Client, w: World) -> httpx.Response:
    payload = {"doctor_id": w.inside, "link_id": str(uuid.uuid4())}
    return api.post("/v1/jobs", json={"kind": "sync_calendar", "payload": payload})


def _events(api: httpx.Client, w: World) -> httpx.Response:
    with api.stream("GET", "/v1/events") as stream:
        if stream.status_code != 200:
            stream.read()  # a problem document: short, read it whole
        return stream  # an open stream's status is all this cell asks; closing ends it


def _fhir_book(api: httpx.Client, w: World) -> httpx.Response:
    appointment = {
        "resourceType": "Appointment",
        "start": "2026-12-07T08:00:00+01:00",
        "end": "2026-12-07T08:15:00+01:00",
        "participant": [
            {"actor": {"reference": f"Practitioner/{w.outside}"}},
            {"actor": {"reference": f"Patient/p-{w.uid}"}},
        ],
    }
    return api.post("/fhir/r4/Appointment", json=appointment, headers={"Prefer": "respond-async"})


# A refusal names its reason: the role may not use the endpoint at all (403 FORBIDDEN_ROLE), or
# it may, but not for this doctor or kind (403 FORBIDDEN_SCOPE).
ROLE, SCOPE = "FORBIDDEN_ROLE", "FORBIDDEN_SCOPE"
Want = int | str
Expected = tuple[Want, Want, Want, Want]

# (name, request, is a write, expected answer per role: submitter, reader, operator, admin)
MATRIX: list[tuple[str, Call, bool, Expected]] = [
    ("submit in scope", lambda a, w: a.post("/v1/jobs", json=w.job(w.inside)), True,
     (202, ROLE, ROLE, 202)),
    ("submit other doctor", lambda a, w: a.post("/v1/jobs", json=w.job(w.outside)), True,
     (SCOPE, ROLE, ROLE, 202)),
    ("submit other kind", _sync, True, (SCOPE, ROLE, ROLE, 202)),
    ("batch with one other doctor", _batch, True, (SCOPE, ROLE, ROLE, 202)),
    ("read own job", lambda a, w: a.get(f"/v1/jobs/{w.own_job}"), False, (200, 200, 200, 200)),
    ("read other's job", lambda a, w: a.get(f"/v1/jobs/{w.other_job}"), False,
     (404, 404, 200, 200)),
    ("list jobs", lambda a, w: a.get("/v1/jobs"), False, (200, 200, 200, 200)),
    ("list other doctor's jobs", lambda a, w: a.get("/v1/jobs", params={"doctor": w.outside}),
     False, (200, SCOPE, 200, 200)),
    ("availability in scope",
     lambda a, w: a.get(f"/v1/doctors/{w.inside}/availability", params=WEEK), False,
     (200, 200, 200, 200)),
    ("availability other doctor",
     lambda a, w: a.get(f"/v1/doctors/{w.outside}/availability", params=WEEK), False,
     (SCOPE, SCOPE, 200, 200)),
    ("calendar in scope", lambda a, w: a.get(f"/v1/doctors/{w.inside}/calendar.ics"), False,
     (200, 200, 200, 200)),
    ("calendar other doctor", lambda a, w: a.get(f"/v1/doctors/{w.outside}/calendar.ics"),
     False, (SCOPE, SCOPE, 200, 200)),
    ("dead letters", lambda a, w: a.get("/v1/dead-letters"), False, (ROLE, ROLE, 200, 200)),
    ("replay", lambda a, w: a.post(f"/v1/dead-letters/{w.letter}/replay"), True,
     (ROLE, ROLE, 200, 200)),
    ("events", _events, False, (200, 200, 200, 200)),
    ("fhir schedule in scope",
     lambda a, w: a.get("/fhir/r4/Schedule", params={"actor": f"Practitioner/{w.inside}"}),
     False, (200, 200, 200, 200)),
    ("fhir schedule other doctor",
     lambda a, w: a.get("/fhir/r4/Schedule", params={"actor": f"Practitioner/{w.outside}"}),
     False, (SCOPE, SCOPE, 200, 200)),
    ("fhir slots other doctor",
     lambda a, w: a.get("/fhir/r4/Slot", params={"schedule": f"Schedule/{w.outside}"}),
     False, (SCOPE, SCOPE, 200, 200)),
    ("fhir book other doctor", _fhir_book, True, (SCOPE, ROLE, ROLE, 202)),
    ("fhir bulk publish", lambda a, w: a.get("/fhir/r4/$bulk-publish"), False,
     (200, 200, 200, 200)),
]  # fmt: skip


# Audit rows the gateway itself writes for a request. The worker also audits under the
# submitter's name when it applies a job another case of the matrix got accepted, at a moment
# of its own: counting those made a refusal look like a write now and then.
GATEWAY_AUDIT_SQL = """
SELECT count(*) FROM audit_log
 WHERE actor = :actor AND entity IN ('job', 'dead_letter', 'api_client')
"""


def _gateway_audit_rows(actor: str) -> int:
    from sqlalchemy import text

    from shared.db.uow import UnitOfWork

    with UnitOfWork() as uow:
        return int(uow.session.execute(text(GATEWAY_AUDIT_SQL), {"actor": actor}).scalar_one())


def _written(w: World, user: ApiUser) -> tuple[int, int, int]:
    return (
        count_rows("jobs", "payload->>'doctor_id'", f"-{w.uid}"),
        _gateway_audit_rows(user.name),
        count_rows("dead_letters", "replayed_as", "-"),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "call", "write", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_matrix(
    gateway: GatewayProcess,
    world: World,
    role: str,
    name: str,
    call: Call,
    write: bool,
    expected: Expected,
) -> None:
    user = world.users[role]
    want = expected[ROLES.index(role)]
    status, refusal = (403, want) if isinstance(want, str) else (want, None)
    before = _written(world, user) if write and refusal else None
    with httpx.Client(base_url=gateway.url, headers=user.headers, timeout=30) as api:
        answer = call(api, world)
    assert answer.status_code == status, f"{role} / {name}: {answer.status_code}"
    if refusal and name.startswith("fhir"):
        issue = answer.json()["issue"][0]
        assert issue["code"] == "forbidden"
        assert issue["details"]["coding"][0]["code"] == refusal, f"{role} / {name}"
    elif refusal:
        problem = answer.json()
        assert problem["code"] == refusal, f"{role} / {name}"
        assert problem["category"] == "AUTHORIZATION"
        if before is not None:
            assert _written(world, user) == before, f"{role} / {name} wrote something"


@pytest.mark.parametrize(("name", "call", "write", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_every_endpoint_needs_a_token(
    gateway: GatewayProcess,
    world: World,
    name: str,
    call: Call,
    write: bool,
    expected: Expected,
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as api:
        answer = call(api, world)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    body = answer.json()
    code = body["issue"][0]["details"]["coding"][0]["code"] if "issue" in body else body["code"]
    assert code == "AUTH_REQUIRED"


def test_listing_shows_each_role_its_view(gateway: GatewayProcess, world: World) -> None:
    def listed(role: str, **params: str) -> dict[str, dict[str, Any]]:
        user = world.users[role]
        with httpx.Client(base_url=gateway.url, headers=user.headers) as api:
            items = api.get("/v1/jobs", params={"limit": 200, **params}).json()["items"]
        return {j["id"]: j for j in items}

    own = listed("submitter")
    assert {j["submitter"] for j in own.values()} == {world.users["submitter"].name}
    assert world.own_job in own
    by_reader = listed("reader")
    assert world.own_job in by_reader and world.other_job not in by_reader
    assert all(j["submitter"] != f"other-{world.uid}" for j in by_reader.values())
    by_operator = listed("operator", doctor=world.outside)
    assert world.other_job in by_operator
