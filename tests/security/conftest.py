from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_support import GatewayProcess


@pytest.fixture(scope="session")
def gateway(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A real gateway process; no worker: nothing here should ever reach one."""
    server = GatewayProcess(tmp_path_factory.mktemp("gateway"))
    yield server
    server.stop()
