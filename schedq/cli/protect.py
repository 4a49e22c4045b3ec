"""Data protection commands: ``schedq reencrypt`` and ``schedq retention``."""

from __future__ import annotations

from datetime import UTC, datetime
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


def retention(
    dry_run: DryRunOpt = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Apply the rules as of this UTC time (YYYY-MM-DD[THH:MM:SS]): planning."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Redact payloads and patient references and delete poison records and dead letters past
    their retention (SCHEDQ_RETENTION_*_DAYS); beat runs the same every interval."""
    from shared.settings import get_settings
    from worker.reliability.retention import purge

    now = None if as_of is None else (as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC))
    counts = purge(get_settings(), now=now, dry_run=dry_run).as_dict()
    if as_json:
        emit_json({"dry_run": dry_run, **counts})
        return
    table = Table("rule", "would change" if dry_run else "changed")
    for rule, count in counts.items():
        table.add_row(rule, str(count))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(reencrypt)
    app.command()(retention)
