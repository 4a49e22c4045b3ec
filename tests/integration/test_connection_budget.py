"""The connection budget reads the real server's max_connections and warns past it."""

from __future__ import annotations

import logging
import os

import pytest

from shared.settings import get_settings, reset_settings_cache
from worker.runtime.connection_budget import Budget, measure, processes_per_node, warn_if_exceeded


def test_budget_arithmetic() -> None:
    assert Budget(3, 4, 10, 97).ceiling == 120
    assert Budget(3, 4, 10, 97).exceeded
    assert not Budget(2, 4, 10, 97).exceeded
    assert processes_per_node("prefork", 8) == 8
    assert processes_per_node("threads", 8) == 1


@pytest.mark.usefixtures("database_url")
def test_many_nodes_warn_against_the_servers_max_connections(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = measure(get_settings(), "prefork", 2)
    assert one.available > 0 and one.nodes == 1
    caplog.set_level(logging.WARNING, "schedq.worker")
    assert not warn_if_exceeded(one)
    assert "connection budget" not in caplog.text
    # Enough nodes that their pools together pass the server's limit, whatever it is.
    nodes = one.available // one.ceiling + 1
    monkeypatch.setenv("SCHEDQ_WORKER_NODES", str(nodes))
    reset_settings_cache()
    try:
        many = measure(get_settings(), "prefork", 2)
    finally:
        monkeypatch.delenv("SCHEDQ_WORKER_NODES")
        reset_settings_cache()
    assert many.nodes == nodes and many.available == one.available
    assert warn_if_exceeded(many)
    assert f"= {many.ceiling} can exceed" in caplog.text and "PgBouncer" in caplog.text
    assert os.environ.get("SCHEDQ_WORKER_NODES") is None
