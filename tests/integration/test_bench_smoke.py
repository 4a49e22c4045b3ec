"""The benchmark harness at its tiny size, end to end, so it cannot rot.

It runs ``python -m bench --size tiny --runs 1`` as a real subprocess (its own database and
redis-server, real worker processes) and checks that every figure produced rows with numbers.
It asserts nothing about speed: timings belong to the benchmark's report, not to tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from bench.__main__ import FIGURES
from tests.conftest import ADMIN_PG, REPO


def test_bench_harness_runs_every_figure_at_tiny_size(tmp_path: Path) -> None:
    env = {**os.environ, "SCHEDQ_BENCH_PG_ADMIN": ADMIN_PG}
    args = ["--size", "tiny", "--runs", "1", "--out", "smoke"]
    args += ["--results-dir", str(tmp_path), "--log-dir", str(tmp_path / "logs")]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=480,  # nine figures, each starting worker nodes; a loaded CI machine is slow
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((tmp_path / "smoke.json").read_text())
    assert set(data["figures"]) == set(FIGURES)
    assert {"ceiling", "hotkey"} <= set(FIGURES)  # both ceilings and the hot key are figures
    for name, fig in data["figures"].items():
        assert fig["command"].startswith(f"python -m bench {name} "), name
        assert fig["rows"], name
        for row in fig["rows"]:
            assert math.isfinite(row["schedq"]["median"]), (name, row)
            assert row["ratio"] is None or math.isfinite(row["ratio"]["median"]), (name, row)
    table = (tmp_path / "smoke.md").read_text()
    assert "| throughput |" in table and "| memory |" in table
