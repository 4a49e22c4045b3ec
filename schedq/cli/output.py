"""Printing for the CLI: rich tables for people, one JSON document for machines (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.errors import SchedqError

# Wide enough for outcome tables when output goes to a file or CI log.
console = Console(width=max(Console().width, 140))
# Errors are one line each whatever the terminal's width (no wrapping), so they stay greppable.
err_console = Console(stderr=True, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def show_error(exc: SchedqError, as_json: bool) -> None:
    if as_json:
        emit_json({"error": exc.as_dict()})
        return
    err_console.print(
        f"[bold red]{exc.code}[/] ({exc.category}, {exc.severity}): {escape(exc.message)}",
        highlight=False,
    )
    for v in exc.details.get("violations", []):
        err_console.print(f"  - {v['path']}: {v['code']}: {v['message']}")


def job_table(job: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    for key in ("id", "kind", "status", "attempts", "correlation_id", "created_at", "finished_at"):
        table.add_row(key, str(job.get(key)))
    if job.get("error"):
        err = job["error"]
        table.add_row("error", f"{err['code']} ({err['category']}, {err['severity']})")
        table.add_row("message", err["message"])
        for v in (err.get("details") or {}).get("violations", []):
            table.add_row("", f"{v['path']}: {v['code']}")
    if job.get("result"):
        table.add_row("result", json.dumps(job["result"]))
    # Every attempt that did not succeed, oldest first (what a retry or a worker loss left).
    for i, h in enumerate(job.get("history") or []):
        code = f"{h.get('error_code') or '-'} ({h.get('error_category') or '-'})"
        retry = f", next try {str(h['next_attempt_at'])[:19]}" if h.get("next_attempt_at") else ""
        table.add_row(
            "history" if i == 0 else "",
            f"#{h.get('attempt')} {str(h.get('at'))[:19]} {h.get('outcome')}: {code}{retry}",
        )
    return table
