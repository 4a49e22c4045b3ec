"""What a worker process loads: the worker app leaves out libraries only some job kinds, the CLI
or migrations need (benchmark figure 6: every pool child carries whatever the app imports)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from worker.pipeline import services  # noqa: F401  (binds the handlers)
from worker.pipeline.context import Applied
from worker.pipeline.error_map import RULES
from worker.pipeline.handlers import handler_for

REPO = Path(__file__).resolve().parents[2]

# Calendar jobs (imported on their first job by worker.calendar.jobs), the CLI, migrations.
NOT_AT_WORKER_IMPORT = (
    "icalendar",
    "recurring_ical_events",
    "caldav",
    "lxml",
    "niquests",
    "httpx",
    "pybreaker",
    "worker.calendar.sync",
    "worker.calendar.publish",
    "typer",
    "rich",
    "schedq.cli",
    "alembic",
    "shared.db.migrate",
)


def test_worker_app_does_not_import_calendar_cli_or_migration_libraries() -> None:
    # A fresh interpreter: this test process has imported all sorts of things already.
    code = "import json, sys, worker.app; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert {"worker.pipeline.handlers", "worker.calendar.jobs"} <= loaded
    unwanted = [m for m in NOT_AT_WORKER_IMPORT if m in loaded]
    assert unwanted == []


@pytest.mark.parametrize(
    ("kind", "module"),
    [("sync_calendar", "worker.calendar.sync"),
     ("publish_calendar", "worker.calendar.publish")],
)  # fmt: skip
def test_deferred_handlers_call_their_service(
    kind: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow, ctx, payload = object(), object(), object()
    service = importlib.import_module(module)
    monkeypatch.setattr(service, kind, lambda *args: Applied({"called_with": args}))
    handler = handler_for(kind)
    assert handler is not None
    assert handler(uow, ctx, payload) == Applied({"called_with": (uow, ctx, payload)})


def test_error_rows_named_by_string_name_exception_types() -> None:
    # A misspelt name would make its row silently never match.
    named = [types for types, _ in RULES if isinstance(types, str)]
    assert named
    for types in named:
        module, _, name = types.rpartition(".")
        found = getattr(importlib.import_module(module), name)
        assert isinstance(found, type) and issubclass(found, BaseException), types
