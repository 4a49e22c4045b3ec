"""The `schedq` CLI against a real worker: submit --wait --json, job, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.workers import WorkerProcess


def schedq(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=90,
        input=stdin,
    )


def test_submit_wait_json_then_job(worker: WorkerProcess, uid: str, tmp_path: Path) -> None:
    payload = {
        "doctor_id": f"cli-{uid}",
        "time_zone": "Asia/Kolkata",
        "valid_from": "2026-12-07",
        "slot_minutes": 20,
        "weekdays": {"sat": [{"start": "09:00", "end": "13:00"}]},
    }
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(payload))
    done = schedq(
        "submit",
        "set_working_plan",
        "--file",
        str(file),
        "--wait",
        "--json",
        "--correlation-id",
        f"cli-corr-{uid}",
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["status"] == "succeeded" and view["correlation_id"] == f"cli-corr-{uid}"
    shown = schedq("job", view["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["result"]["shifts"] == 1


def test_rejected_job_exits_1_with_reason(worker: WorkerProcess, uid: str) -> None:
    payload = {
        "doctor_id": f"clibad-{uid}",
        "time_zone": "UTC",
        "valid_from": "2026-12-07",
        "slot_minutes": 20,
        "weekdays": {"sat": [{"start": "13:00", "end": "09:00"}]},
    }
    done = schedq(
        "submit", "set_working_plan", "--file", "-", "--wait", "--json", stdin=json.dumps(payload)
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["details"]["violations"][0]["code"] == (
        "SHIFT_END_NOT_AFTER_START"
    )


def test_unreadable_payload_and_unknown_job_exit_2(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = schedq("submit", "set_working_plan", "--file", str(bad), "--json")
    assert done.returncode == 2 and json.loads(done.stdout)["error"]["code"] == "PAYLOAD_UNREADABLE"
    missing = schedq("submit", "set_working_plan", "--file", str(tmp_path / "nope.json"), "--json")
    assert missing.returncode == 2
    unknown = schedq("job", "00000000-0000-0000-0000-000000000000", "--json")
    assert (
        unknown.returncode == 2 and json.loads(unknown.stdout)["error"]["code"] == "JOB_NOT_FOUND"
    )
