from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workers import WorkerProcess


@pytest.fixture(scope="session")
def worker(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One real worker node shared by the end-to-end tests of this run."""
    log_dir: Path = tmp_path_factory.mktemp("workers")
    node = WorkerProcess(log_dir, "e2e")
    node.wait_ready()
    yield node
    node.stop()
