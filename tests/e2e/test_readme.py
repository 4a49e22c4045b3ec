"""The README, as written, in order, from a fresh-clone layout, against real servers.

Every shell and Python block of README.md runs in one bash script (so `source` and `export`
carry over), in a folder that holds the repository's files (outputs such as job.json land
there, not in the checkout). Blocks the README marks ``readme-test: skip`` are not run; the
test prints each with its reason. The skipped worker block is stood in for by a real worker
started here, consuming queues of this test's own so no other test's worker takes its jobs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from shared.crypto import generate_key
from shared.db.roles import drop_app_role
from tests.conftest import ADMIN_PG, REPO
from tests.readme_blocks import blocks, script
from tests.workers import WorkerProcess

QUEUES = {
    "SCHEDQ_SCHEDULE_QUEUE": "readme_schedule",
    "SCHEDQ_CALENDAR_QUEUE": "readme_calendar",
    "SCHEDQ_DEAD_LETTER_QUEUE": "readme_dead_letter",
}


@pytest.fixture
def readme_env(database_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    """A database that does not exist yet (the README's `schedq migrate` creates it)."""
    name = f"{make_url(database_url).database}_readme"
    url = make_url(database_url).set(database=name).render_as_string(False)
    # The worker started here must hold the key the README's block would make: give both one.
    key = generate_key()
    # Roles are cluster-wide: `schedq migrate` grants one of this test's own, dropped after.
    role = f"{name}_app"
    yield {
        "SCHEDQ_DATABASE_URL": url,
        "SCHEDQ_BROKER_URL": redis_url,
        "SCHEDQ_ENCRYPTION_KEYS": key,
        "SCHEDQ_APP_DB_ROLE": role,
        **QUEUES,
    }
    # (a database that was never created has no grant, and the role was never made)
    with contextlib.suppress(psycopg.OperationalError):
        drop_app_role(url, role)
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_readme_block_runs_as_written(readme_env: dict[str, str], tmp_path: Path) -> None:
    assert (REPO / ".venv" / "bin" / "activate").exists(), "run `bash .ci/bootstrap` first"
    for block in blocks():
        if block.skip is not None:
            print(f"not run: README.md line {block.line} ({block.first!r}): {block.skip}")
    clone = tmp_path / "clone"
    clone.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".schedq"):  # the clone keeps its own .schedq/
            (clone / entry.name).symlink_to(entry)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDQ_")}
    env.update(readme_env)
    env.pop("VIRTUAL_ENV", None)
    worker = WorkerProcess(tmp_path, "readme", queues=",".join(list(QUEUES.values())[:2]), env=env)
    try:
        worker.wait_ready()
        done = subprocess.run(
            ["bash", "-c", script(blocks())],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        worker.stop()
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{out[-6000:]}\nworker log:\n{worker.log()}"
    assert "created database" in out and "database at head" in out
    assert out.count("succeeded") >= 3  # shell submit, Python wait, Python batch
    ics = (clone / "dr-example.ics").read_text()
    assert "BEGIN:VCALENDAR" in ics and "BEGIN:VEVENT" in ics
