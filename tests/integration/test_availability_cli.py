"""``schedq availability`` prints the same answer as the client, as JSON or a table."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from schedq.cli.main import app
from tests.domain_support import apply, plan_payload


def test_cli_availability_json_and_table(database_url: str, redis_url: str, uid: str) -> None:
    doctor = f"cli-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    runner = CliRunner()
    args = ["availability", doctor, "--from", "2026-01-05", "--to", "2026-01-06"]
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.output)
    assert answer["slots"][0] == {
        "start": "2026-01-05T07:00:00+00:00",
        "end": "2026-01-05T07:15:00+00:00",
        "remaining": 1,
    }
    assert len(answer["slots"]) == 16 and answer["possibly_stale"] is False
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "16 free slots" in table.output
    missing = runner.invoke(
        app,
        ["availability", f"nobody-{uid}", "--from", "2026-01-05", "--to", "2026-01-06", "--json"],
    )
    assert (
        missing.exit_code == 2 and json.loads(missing.output)["error"]["code"] == "DOCTOR_NOT_FOUND"
    )
