"""The benchmark's baseline is bare Celery: what its worker loads is Celery's, not schedq's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_baseline_worker_loads_no_sqlalchemy_and_no_schedq_worker_code() -> None:
    # The app and the consumer class its worker would start, in a fresh interpreter.
    code = (
        "import json, sys\n"
        "from celery.utils.imports import symbol_by_name\n"
        "from bench.baseline import app\n"
        "symbol_by_name(app.conf.worker_consumer)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "celery.worker.consumer" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "worker")] == []
