"""schedq's data as FHIR R4 resources (plain dicts, pure functions).

A doctor is a ``Practitioner`` (schedq keeps no practitioner data, only the reference) with one
``Schedule`` whose id is the doctor id; free slots are ``Slot`` resources with status ``free``;
appointments are ``Appointment`` resources whose patient is an identifier holding the opaque
reference (schedq keeps nothing else about patients). Only doctor ids that are valid FHIR ids
(letters, digits, '-' and '.', at most 64) are served over FHIR.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
PATIENT_SYSTEM = "urn:schedq:patient-ref"
SOFTWARE = {"name": "schedq", "version": "0.1.0"}


def schedule(doctor_id: str, time_zone: str, updated_at: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": doctor_id,
        "meta": {"lastUpdated": updated_at.isoformat()},
        "active": True,
        "actor": [{"reference": f"Practitioner/{doctor_id}"}],
        "comment": f"Working hours of practitioner {doctor_id} ({time_zone})",
    }


def slot_id(doctor_id: str, start: str) -> str:
    # Stable per doctor and start, and a valid FHIR id whatever the doctor id holds.
    return hashlib.sha256(f"{doctor_id}|{start}".encode()).hexdigest()[:40]


def slot(doctor_id: str, free: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": slot_id(doctor_id, str(free["start"])),
        "schedule": {"reference": f"Schedule/{doctor_id}"},
        "status": "free",
        "start": free["start"],
        "end": free["end"],
        # SMART Scheduling Links: how many more bookings the slot takes.
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity",
                "valueInteger": int(free.get("remaining", 1)),
            }
        ],
    }


def appointment(
    appointment_id: str,
    doctor_id: str,
    status: str,
    starts_at: datetime,
    ends_at: datetime,
    patient_ref: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": status,
        "start": starts_at.isoformat(),
        "end": ends_at.isoformat(),
        "participant": [
            {"actor": {"reference": f"Practitioner/{doctor_id}"}, "status": "accepted"},
            {
                "actor": {"identifier": {"system": PATIENT_SYSTEM, "value": patient_ref}},
                "status": "accepted",
            },
        ],
    }


def searchset(
    entries: Iterable[dict[str, Any]], base: str, links: Mapping[str, str], total: int | None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": rel, "url": url} for rel, url in links.items()],
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in entries
        ],
    }
    if total is not None:
        bundle["total"] = total
    return bundle


def capability_statement(base: str, now: datetime) -> dict[str, Any]:
    def search(*names: tuple[str, str]) -> list[dict[str, str]]:
        return [{"name": n, "type": t} for n, t in names]

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.date().isoformat(),
        "kind": "instance",
        "software": SOFTWARE,
        "implementation": {"description": "schedq FHIR gateway", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "description": "Authorization: Bearer <token> from `schedq clients create`",
                },
                "resource": [
                    {
                        "type": "Schedule",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": search(("actor", "reference")),
                    },
                    {
                        "type": "Slot",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": search(
                            ("schedule", "reference"), ("start", "date"), ("status", "token")
                        ),
                    },
                    {
                        "type": "Appointment",
                        "interaction": [{"code": "read"}, {"code": "create"}],
                    },
                ],
                "operation": [
                    {
                        "name": "bulk-publish",
                        "definition": "http://fhir-registry.smarthealthit.org/OperationDefinition/bulk-publish",
                    }
                ],
            }
        ],
    }
