from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_support import GatewayProcess
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


@pytest.fixture(scope="session")
def gateway(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One real ``schedq api`` (uvicorn) process shared by the gateway tests of this run."""
    server = GatewayProcess(tmp_path_factory.mktemp("gateway"))
    yield server
    server.stop()
