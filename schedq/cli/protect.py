"""Data protection commands: ``schedq reencrypt`` and ``schedq retention``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, show_error
from shared.errors import SchedqError

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Only count; change nothing.")]


def reencrypt(
    dry_run: DryRunOpt = False,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Seal every stored patient reference under the first SCHEDQ_ENCRYPTION_KEYS key
    (plaintext ones written before encryption too). Safe while workers run."""
    from schedq.ops.reencrypt import reencrypt as run
    from shared.settings import get_settings

    try:
        counts = run(get_settings().encryption_keys, dry_run=dry_run, batch=batch)
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    if as_json:
        emit_json({"dry_run": dry_run, "places": [c.__dict__ for c in counts]})
        return
    table = Table("place", "checked", "would rewrite" if dry_run else "rewritten")
    for c in counts:
        table.add_row(c.place, str(c.checked), str(c.rewritten))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(reencrypt)
