"""Operator commands: ``schedq exporter``, ``stats`` and ``health live|ready``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, show_error
from shared.errors import error

health_app = typer.Typer(help="Liveness and readiness checks (exit 0 healthy, 1 not).")
TimeoutOpt = Annotated[float, typer.Option(help="Seconds each probe may take.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def exporter(
    port: Annotated[int, typer.Option(help="HTTP port of /metrics.")] = 9809,
    address: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
) -> None:
    """Serve global gauges (queue depth, oldest queued job, ledger, breakers, workers up)."""
    from schedq.ops.exporter import serve
    from shared.logs import configure_logging
    from shared.settings import get_settings

    settings = get_settings()
    configure_logging(settings, "exporter")
    serve(settings, port, address)


def stats(
    window: Annotated[str, typer.Option(help="How far back: 30s, 15m, 1h, 7d.")] = "1h",
    as_json: JsonOpt = False,
) -> None:
    """Throughput, failure rate and P50/P95/P99 latency per job kind, from the ledger."""
    from schedq.ops.stats import job_stats, parse_window
    from shared.settings import get_settings

    try:
        span = parse_window(window)
    except ValueError as exc:
        show_error(error("OPTION_INVALID", problem=f"--window: {exc}"), as_json)
        raise typer.Exit(2) from None
    rows = job_stats(get_settings().database_url, span)
    if as_json:
        emit_json({"window": window, "kinds": [r.as_dict() for r in rows]})
        return
    table = Table(title=f"schedq jobs finished in the last {window}")
    heads = ("kind", "finished", "succeeded", "rejected", "dead", "per min", "failure rate")
    for col in (*heads, "p50 s", "p95 s", "p99 s"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.kind,
            *(str(v) for v in (r.finished, r.succeeded, r.rejected, r.dead, r.per_minute)),
            f"{r.failure_rate:.2%}",
            *(f"{v:g}" for v in (r.latency_p50, r.latency_p95, r.latency_p99)),
        )
    console.print(table if rows else f"no job finished in the last {window}")


def _report(checks: list[object], as_json: bool) -> None:
    from schedq.ops.health import Check

    results = [c for c in checks if isinstance(c, Check)]
    healthy = all(c.ok for c in results)
    if as_json:
        emit_json({"healthy": healthy, "checks": [c.__dict__ for c in results]})
    else:
        for c in results:
            console.print(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}", highlight=False)
    if not healthy:
        raise typer.Exit(1)


@health_app.command("live")
def health_live(
    worker: Annotated[
        str | None, typer.Option(help="This node answers a ping ('schedule' = schedule@<host>).")
    ] = None,
    http: Annotated[str | None, typer.Option(help="This URL answers 2xx.")] = None,
    timeout: TimeoutOpt = 3.0,
    as_json: JsonOpt = False,
) -> None:
    """Is this process alive? (--worker NODE, --http URL, or bare: the broker answers)."""
    from schedq.ops.health import live
    from shared.settings import get_settings

    _report(list(live(get_settings(), timeout, worker, http)), as_json)


@health_app.command("ready")
def health_ready(
    workers: Annotated[
        bool, typer.Option(help="Require at least one worker answering a ping.")
    ] = True,
    timeout: TimeoutOpt = 3.0,
    as_json: JsonOpt = False,
) -> None:
    """Can the system take jobs? Broker, database, migrations at head, workers answering."""
    from schedq.ops.health import ready
    from shared.settings import get_settings

    _report(list(ready(get_settings(), timeout, workers)), as_json)


def _json_logs(ctx: typer.Context) -> None:
    """Every command logs to stderr: text lines on a terminal, JSON lines otherwise
    (SCHEDQ_LOG_FORMAT). Workers and beat reconfigure for themselves."""
    import os

    from shared.logs import configure_logging
    from shared.settings import get_settings

    command = ctx.invoked_subcommand or "cli"
    # A one-shot command answers in its own output; its INFO narration (each job accepted,
    # each migration step) is for servers. SCHEDQ_LOG_LEVEL, when set, still decides.
    quiet = command not in _SERVERS and "SCHEDQ_LOG_LEVEL" not in os.environ
    configure_logging(
        get_settings(),
        {"submit": "producer"}.get(command, command),
        "WARNING" if quiet else None,
    )


_SERVERS = ("worker", "beat", "exporter", "flower")


def register(app: typer.Typer) -> None:
    app.callback()(_json_logs)
    app.command()(exporter)
    app.command()(stats)
    app.add_typer(health_app, name="health")
