"""``schedq dlq``: list, show, replay and purge dead letters (see docs/dlq.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, show_error
from shared.errors import SchedqError

app = typer.Typer(help="Inspect, replay and purge dead-lettered jobs.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(exc: SchedqError, as_json: bool) -> None:
    show_error(exc, as_json)
    raise typer.Exit(2)


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option(help="Only this job kind.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Last failure after: 2h, 7d or an ISO instant.")
    ] = None,
    code: Annotated[str | None, typer.Option(help="Only this error code.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List dead letters, newest first."""
    from schedq.ops import dlq

    try:
        flt = dlq.Filter(kind, code, dlq.parse_since(since) if since else None)
        rows = dlq.list_letters(flt, limit)
    except SchedqError as exc:
        _fail(exc, as_json)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "job", "kind", "error", "attempts", "last failure", "replayed as")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["job_id"],
            r["kind"],
            r["error_code"],
            str(r["attempts"]),
            r["last_failure_at"][:19],
            r["replayed_as"] or "-",
        )
    console.print(table)
    console.print(f"{len(rows)} dead letter(s)")


@app.command()
def show(
    ident: Annotated[str, typer.Argument(help="Dead-letter id or job id.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one dead letter: error, payload and attempt history."""
    from schedq.ops import dlq

    try:
        letter = dlq.show(ident)
    except SchedqError as exc:
        _fail(exc, as_json)
    if as_json:
        emit_json(letter)
        return
    table = Table(show_header=False, box=None)
    for key in ("id", "job_id", "kind", "queue", "attempts", "first_failure_at"):
        table.add_row(key, str(letter[key]))
    table.add_row("last_failure_at", letter["last_failure_at"])
    err: dict[str, Any] = letter["error"]
    table.add_row("error", f"{err['code']} ({err['category']}, {err['severity']})")
    table.add_row("message", err["message"])
    table.add_row("replayed_as", letter["replayed_as"] or "-")
    console.print(table)
    history = Table("attempt", "at", "outcome", "error", "category", "next try at")
    for h in letter["history"]:
        history.add_row(
            str(h["attempt"]),
            h["at"][:23],
            h["outcome"],
            h["error_code"] or "-",
            h["error_category"] or "-",
            (h["next_attempt_at"] or "-")[:23],
        )
    console.print(history)


@app.command()
def replay(
    ident: Annotated[str | None, typer.Argument(help="Dead-letter id or job id.")] = None,
    all_matching: Annotated[
        str | None,
        typer.Option(help="Replay every match of kind=...,code=...,since=... instead of one."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay as a new job linked to the original (idempotent; succeeded jobs are skipped)."""
    from schedq.ops import dlq
    from shared.settings import get_settings

    settings = get_settings()
    if (ident is None) == (all_matching is None):
        _fail(dlq.bad_input("Give a dead-letter id or --all-matching FILTER, not both."), as_json)
    try:
        flt = dlq.Filter.parse(all_matching) if all_matching else None
        results = dlq.replay(settings, ident=ident, flt=flt)
    except SchedqError as exc:
        _fail(exc, as_json)
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    for r in results:
        target = f" -> job {r.new_job_id}" if r.new_job_id else ""
        console.print(f"dead letter {r.letter_id} (job {r.job_id}): {r.outcome}{target}")
    console.print(f"{sum(r.outcome == 'replayed' for r in results)} replayed")


@app.command()
def purge(
    older_than: Annotated[str, typer.Option(help="Age of the last failure: 30d, 12h, 0s...")],
    as_json: JsonOpt = False,
) -> None:
    """Delete dead letters (and poison-message records) older than the given age."""
    from schedq.ops import dlq

    try:
        counts = dlq.purge(dlq.parse_duration(older_than))
    except SchedqError as exc:
        _fail(exc, as_json)
    if as_json:
        emit_json(counts)
    else:
        console.print(
            f"purged {counts['dead_letters']} dead letter(s), "
            f"{counts['poison_messages']} poison record(s)"
        )
