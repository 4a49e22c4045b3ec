"""FHIR R4 over the live gateway: resources validated with ``fhir.resources`` (R4B models, the
R4 shapes of these resources), Schedules and Slots read by an independent client
(``fhirclient``), asynchronous booking through a real worker, and the SMART Scheduling Links
bulk publication with ``_since``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from fhirclient.models.schedule import Schedule as ClientSchedule
from fhirclient.models.slot import Slot as ClientSlot
from fhirclient.server import FHIRServer

from tests.gateway_support import GatewayProcess, http, make_user, plan_job, wait_terminal
from tests.workers import WorkerProcess

FHIR = {"content-type": "application/fhir+json", "Prefer": "respond-async"}


def _doctor_with_plan(gateway: GatewayProcess, doctor: str) -> None:
    with http(gateway.url, make_user("admin")) as api:
        job = api.post("/v1/jobs", json=plan_job(doctor)).json()
        assert wait_terminal(api, job["id"])["status"] == "succeeded"


def _appointment(doctor: str, start: str, end: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": start,
        "end": end,
        "participant": [
            {"actor": {"reference": f"Practitioner/{doctor}"}, "status": "accepted"},
            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
        ],
    }


def _await(api: httpx.Client, location: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        answer = api.get(location)
        if answer.status_code != 202 or time.monotonic() > deadline:
            return answer
        assert answer.headers["x-progress"] in ("queued", "running")
        time.sleep(0.2)


def test_metadata_is_a_valid_capability_statement(gateway: GatewayProcess) -> None:
    answer = httpx.get(f"{gateway.url}/fhir/r4/metadata")
    assert answer.headers["content-type"] == "application/fhir+json"
    statement = CapabilityStatement.model_validate(answer.json())
    assert statement.fhirVersion == "4.0.1"
    types = {r.type for r in statement.rest[0].resource}  # type: ignore[index,union-attr]
    assert types == {"Schedule", "Slot", "Appointment"}


def test_schedules_and_slots_validate_and_page(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    doctor = f"fh-{uid}"
    _doctor_with_plan(gateway, doctor)
    with http(gateway.url, make_user("reader", doctors=[doctor])) as api:
        found = Bundle.model_validate(
            api.get("/fhir/r4/Schedule", params={"actor": f"Practitioner/{doctor}"}).json()
        )
        assert found.type == "searchset"
        schedules = [Schedule.model_validate(e.resource.model_dump()) for e in found.entry]  # type: ignore[union-attr]
        assert [s.id for s in schedules] == [doctor]
        params = [("schedule", f"Schedule/{doctor}"), ("start", "ge2026-12-07"),
                  ("start", "lt2026-12-08"), ("status", "free"), ("_count", "10")]  # fmt: skip
        first = api.get("/fhir/r4/Slot", params=params).json()
        page = Bundle.model_validate(first)
        assert page.total == 16 and len(page.entry or []) == 10
        links = {link.relation: link.url for link in page.link or []}
        following = Bundle.model_validate(api.get(links["next"]).json())
        assert len(following.entry or []) == 6
        assert not any(link.relation == "next" for link in following.link or [])
        slots = [Slot.model_validate(e["resource"]) for e in first["entry"]]
        assert all(s.status == "free" for s in slots)
        assert slots[0].start.isoformat() == "2026-12-07T07:00:00+00:00"  # 08:00 Berlin
        outside = api.get("/fhir/r4/Slot", params={"schedule": "Schedule/elsewhere"})
        assert outside.status_code == 403
        problem = OperationOutcome.model_validate(outside.json())
        assert problem.issue[0].details.coding[0].code == "FORBIDDEN_SCOPE"  # type: ignore[index,union-attr]


def test_an_independent_fhir_client_reads_schedules_and_slots(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    doctor = f"fc-{uid}"
    _doctor_with_plan(gateway, doctor)
    server = FHIRServer(None, base_uri=f"{gateway.url}/fhir/r4/")
    server.session.headers["Authorization"] = make_user("reader").headers["Authorization"]
    search_schedules = ClientSchedule.where({"actor": f"Practitioner/{doctor}"})
    schedules = list(search_schedules.perform_resources_iter(server))
    assert [s.id for s in schedules] == [doctor]
    assert schedules[0].actor[0].reference == f"Practitioner/{doctor}"
    # One start bound (fhirclient writes a dict of bounds in a pre-R4 syntax); the window then
    # runs 14 days: the Mondays 7 and 14 December, 16 slots each.
    search = ClientSlot.where(
        {"schedule": f"Schedule/{doctor}", "start": "ge2026-12-07", "_count": "5"}
    )
    slots = list(search.perform_resources_iter(server))  # follows the next links
    assert len(slots) == 32
    assert {s.status for s in slots} == {"free"}
    assert len({s.id for s in slots}) == 32


def test_async_booking_and_a_conflict_as_operation_outcome(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    doctor = f"fb-{uid}"
    _doctor_with_plan(gateway, doctor)
    patient = f"p-{uid}"
    booking = _appointment(doctor, "2026-12-07T08:00:00+01:00", "2026-12-07T08:15:00+01:00",
                           patient)  # fmt: skip
    user = make_user("submitter", ["book_appointment"], [doctor])
    with http(gateway.url, user) as api:
        kicked = api.post("/fhir/r4/Appointment", content=json.dumps(booking), headers=FHIR)
        assert kicked.status_code == 202, kicked.text
        done = _await(api, kicked.headers["content-location"])
        assert done.status_code == 200, done.text
        bundle = Bundle.model_validate(done.json())
        assert bundle.type == "batch-response"
        entry = bundle.entry[0]  # type: ignore[index]
        booked = Appointment.model_validate(entry.resource.model_dump())  # type: ignore[union-attr]
        assert booked.status == "booked"
        read = api.get(f"/fhir/r4/{entry.response.location}")  # type: ignore[union-attr]
        assert Appointment.model_validate(read.json()).id == booked.id
        again = api.post("/fhir/r4/Appointment", content=json.dumps(booking), headers=FHIR)
        refused = _await(api, again.headers["content-location"])
        assert refused.status_code == 409
        outcome = OperationOutcome.model_validate(refused.json())
        issue = outcome.issue[0]
        assert issue.code == "conflict"
        assert issue.details.coding[0].code == "SCHEDULE_CONFLICT"  # type: ignore[index,union-attr]
        other = _appointment("elsewhere", booking["start"], booking["end"], patient)
        denied = api.post("/fhir/r4/Appointment", content=json.dumps(other), headers=FHIR)
        assert denied.status_code == 403
        assert denied.headers["content-type"] == "application/fhir+json"
        invalid = api.post("/fhir/r4/Appointment", json={"resourceType": "Appointment"})
        assert invalid.status_code == 422
        assert {i.code for i in OperationOutcome.model_validate(invalid.json()).issue} == {
            "invalid"
        }
        assert api.get(f"/fhir/r4/Appointment/{uuid.uuid4()}").status_code == 404


def test_bulk_publish_manifest_and_since(
    gateway: GatewayProcess, worker: WorkerProcess, uid: str
) -> None:
    early, late = f"bp1-{uid}", f"bp2-{uid}"
    _doctor_with_plan(gateway, early)
    with http(gateway.url, make_user("reader", doctors=[f"bp?-{uid}"])) as api:
        first = api.get("/fhir/r4/$bulk-publish").json()
        assert {o["type"] for o in first["output"]} == {"Schedule", "Slot"}
        urls = {o["type"]: o["url"] for o in first["output"]}
        lines = api.get(urls["Schedule"]).text.splitlines()
        assert [Schedule.model_validate(json.loads(x)).id for x in lines] == [early]
        slot_file = api.get(urls["Slot"])
        assert slot_file.headers["content-type"].startswith("application/fhir+ndjson")
        slots = [Slot.model_validate(json.loads(x)) for x in slot_file.text.splitlines()]
        assert slots and all(s.schedule.reference == f"Schedule/{early}" for s in slots)
        _doctor_with_plan(gateway, late)
        since = api.get("/fhir/r4/$bulk-publish", params={"_since": first["transactionTime"]})
        urls = {o["type"]: o["url"] for o in since.json()["output"]}
        changed = [json.loads(x)["id"] for x in api.get(urls["Schedule"]).text.splitlines()]
        assert changed == [late]
