"""``schedq ics DOCTOR``: the doctor's appointments as an iCalendar feed on stdout.

No patient data beyond the opaque reference; UIDs are the same as in CalDAV exports.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def ics(
    doctor: Annotated[str, typer.Argument(help="Doctor id.")],
    days_back: Annotated[
        int, typer.Option(help="Include appointments that ended up to this many days ago.")
    ] = 1,
) -> None:
    """Print an ICS feed of a doctor's appointments (opaque patient references only)."""
    from schedq.cli.output import show_error
    from shared.errors import SchedqError
    from shared.ics_feed import doctor_feed

    try:
        feed = doctor_feed(doctor, days_back)
    except SchedqError as exc:
        show_error(exc, False)  # DOCTOR_NOT_FOUND: the same line as availability's
        raise typer.Exit(2) from None
    sys.stdout.write(feed.decode())
