"""`.ci/bootstrap` (run by `.ci/demo` and `.ci/test`) skips pip when nothing changed.

A second run with pyproject.toml unchanged must not reach pip at all: that is what makes the
demo start at once and work offline. pip is made to fail loudly here if it is reached.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from tests.conftest import REPO


def _bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", ".ci/bootstrap", "--no-promtool"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_second_bootstrap_installs_nothing(tmp_path: Path) -> None:
    first = _bootstrap(dict(os.environ))  # installs only if the stamp is stale
    assert first.returncode == 0, first.stderr[-3000:]
    stamp = (REPO / ".venv" / ".schedq-installed").read_text().strip()
    version = subprocess.run(
        [str(REPO / ".venv/bin/python"), "--version"], capture_output=True, text=True
    ).stdout
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    line = f"{digest}  pyproject.toml\n{version}"
    assert stamp == hashlib.sha256(line.encode()).hexdigest()
    # An index that refuses every connection: pip, if run, would print errors and retry.
    offline = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0"}
    second = _bootstrap(offline)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "" and second.stderr == ""
