"""The suite kills the mutants that once survived it (issue 19), checked on every CI run.

Each case breaks one guarantee of the spine in a copy of the product (one change of source
text), runs the tests written for that guarantee against the copy, and expects them to fail.
The full mutation run is ``bash .ci/mutation`` (docs/testing.md); this is its small, named set.
If the product's text changes so that a mutant no longer applies, the case fails and says so:
update the mutant with the code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO


@dataclass(frozen=True)
class Mutant:
    path: str
    original: str
    mutated: str
    tests: str


# The last lines inside submit_jobs' transaction (an envelope appended per fresh row).
_END_OF_BATCH_LOOP = (
    '                        row["correlation_id"],\n'
    "                    )\n"
    "                )\n"
)
MUTANTS = {
    # Two deliveries of one job both apply it: 2 audit rows, a double booking.
    "no-pending-recheck": Mutant(
        "worker/pipeline/executor.py",
        "        if not pending:\n",
        "        if False:\n",
        "tests/integration/test_duplicate_delivery.py",
    ),
    # A worker can see the message before the row commits.
    "publish-batch-before-commit": Mutant(
        "shared/ledger/submit.py",
        _END_OF_BATCH_LOOP,
        _END_OF_BATCH_LOOP
        + "            publish_committed(settings, envelopes)\n            envelopes = []\n",
        "tests/integration/test_publish_after_commit.py",
    ),
    # Retries synchronise into thundering herds.
    "backoff-without-jitter": Mutant(
        "worker/pipeline/executor.py",
        "    delay = random.uniform(0, ceiling)\n",
        "    delay = ceiling\n",
        "tests/unit/test_backoff_spread.py",
    ),
    # A message of exactly the documented size is refused.
    "poison-size-off-by-one": Mutant(
        "worker/reliability/poison.py",
        "    if size > limit:\n",
        "    if size >= limit:\n",
        "tests/unit/test_poison_limits.py",
    ),
    # Quarantined one delivery early.
    "crash-loop-one-early": Mutant(
        "worker/pipeline/executor.py",
        "    if row.unfinished_deliveries > settings.max_deliveries:\n",
        "    if row.unfinished_deliveries >= settings.max_deliveries:\n",
        "tests/integration/test_crash_loop_boundary.py",
    ),
}
_COPIED = ("shared", "worker", "producers", "schedq", "tests", "alembic", "pyproject.toml")


def _mutated_copy(root: Path, mutant: Mutant) -> Path:
    for name in _COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    target = root / mutant.path
    text = target.read_text()
    assert text.count(mutant.original) == 1, f"the mutant no longer applies to {mutant.path}"
    target.write_text(text.replace(mutant.original, mutant.mutated))
    return root


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_guarantee_tests_kill_the_mutant(name: str, tmp_path: Path) -> None:
    mutant = MUTANTS[name]
    root = _mutated_copy(tmp_path, mutant)
    # The copy comes first on the path (before the editable install of the real product), and
    # its pytest session claims a database and a Redis db of its own.
    env = {k: v for k, v in os.environ.items() if k != "SCHEDQ_TEST_REDIS_DB"}
    env["PYTHONPATH"] = str(root)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider",
         mutant.tests],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert str(root) in _imported_from(root, env), "the copy's modules were not the ones tested"
    assert done.returncode == 1, f"mutant {name} survived {mutant.tests}:\n{out[-2000:]}"
    assert " failed" in out


def _imported_from(root: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import worker.pipeline.executor as m; print(m.__file__)"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.stdout
