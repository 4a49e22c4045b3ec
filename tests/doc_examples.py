"""The JSON examples in docs/examples, made unique per test run (doctor, calendar, appointment)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
# The order an operator would follow: a plan first, the appointment last.
ORDER = [
    "set_working_plan",
    "add_exception",
    "remove_exception",
    "set_holidays",
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
]
EXAMPLE_APPOINTMENT = "5b0e7c1e-3a0c-4b8e-9a55-2f4f7f9d1a01"


def example(kind: str, uid: str = "", appointment: uuid.UUID | None = None) -> dict[str, Any]:
    text = (EXAMPLES / f"{kind}.json").read_text(encoding="utf-8")
    if uid:
        text = text.replace("dr-example", f"dr-{uid}").replace("de-example", f"cal-{uid}")
    if appointment is not None:
        text = text.replace(EXAMPLE_APPOINTMENT, str(appointment))
    data: dict[str, Any] = json.loads(text)
    return data
