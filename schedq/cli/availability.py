"""``schedq availability DOCTOR --from --to``: free slots with remaining capacity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, show_error
from shared.errors import SchedqError


def _when(value: str) -> date | datetime:
    """A date (the doctor's local day) or an ISO datetime (naive = doctor's local time)."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use YYYY-MM-DD or an ISO 8601 date-time") from None


def availability(
    doctor_id: Annotated[str, typer.Argument(help="Doctor id.")],
    start: Annotated[str, typer.Option("--from", help="First local day (or ISO date-time).")],
    end: Annotated[str, typer.Option("--to", help="End, exclusive (local day or date-time).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show a doctor's free slots (served from a cache keyed by the schedule version)."""
    from producers.client import Client

    try:
        answer = Client(submitter="cli").availability(doctor_id, _when(start), _when(end))
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    if as_json:
        emit_json(answer)
        return
    note = " (possibly stale: database unreachable)" if answer["possibly_stale"] else ""
    console.print(
        f"{answer['doctor_id']} ({answer['time_zone']}), version {answer['schedule_version']}: "
        f"{len(answer['slots'])} free slots{note}"
    )
    # Printed in the doctor's zone with its offset (the JSON answer keeps UTC instants).
    zone = ZoneInfo(answer["time_zone"])
    table = Table("start", "end", "remaining")
    for slot in answer["slots"]:
        table.add_row(
            _local(slot["start"], zone), _local(slot["end"], zone), str(slot["remaining"])
        )
    console.print(table)


def _local(instant: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(instant).astimezone(zone).isoformat(sep=" ", timespec="minutes")
