"""A realistic sample workload for the demo: several doctors, valid and invalid plans."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney"]


def valid_plan(doctor_id: str, rng: random.Random) -> dict[str, Any]:
    morning = {"start": "08:00", "end": rng.choice(["12:00", "12:30", "13:00"])}
    afternoon = {"start": rng.choice(["13:30", "14:00"]), "end": rng.choice(["17:00", "18:00"])}
    days = ["mon", "tue", "wed", "thu", "fri"]
    return {
        "doctor_id": doctor_id,
        "time_zone": rng.choice(ZONES),
        "valid_from": (date(2026, 12, 1) + timedelta(days=rng.randrange(0, 30))).isoformat(),
        "slot_minutes": rng.choice([10, 15, 20, 30]),
        "weekdays": {d: [morning, afternoon] if d != "fri" else [morning] for d in days},
    }


def invalid_plans(doctor_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Each a plan a real upstream system might send by mistake, with what is wrong."""
    base = {
        "doctor_id": doctor_id,
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-12-01",
        "slot_minutes": 15,
    }
    return [
        (
            "shift ends before it starts",
            {**base, "weekdays": {"mon": [{"start": "17:00", "end": "09:00"}]}},
        ),
        (
            "overlapping shifts",
            {
                **base,
                "weekdays": {
                    "tue": [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "15:00"}]
                },
            },
        ),
        (
            "unknown time zone",
            {
                **base,
                "time_zone": "Mars/Olympus_Mons",
                "weekdays": {"wed": [{"start": "08:00", "end": "12:00"}]},
            },
        ),
        ("not HH:MM", {**base, "weekdays": {"thu": [{"start": "8am", "end": "12:00"}]}}),
        (
            "outside business hours",
            {**base, "weekdays": {"fri": [{"start": "03:00", "end": "07:00"}]}},
        ),
    ]


def shape_errors(doctor_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Payloads refused at submit time (wrong shape): no job is created for these."""
    return [
        (
            "slot length missing",
            {
                "doctor_id": doctor_id,
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "weekdays": {},
            },
        ),
        (
            "weekday misspelt",
            {
                "doctor_id": doctor_id,
                "time_zone": "UTC",
                "valid_from": "2026-12-01",
                "slot_minutes": 15,
                "weekdays": {"monday": []},
            },
        ),
    ]
