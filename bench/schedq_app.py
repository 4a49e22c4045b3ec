"""The schedq worker app exactly as deployed (``worker.app``), plus the optional latency probe."""

from __future__ import annotations

from bench.probe import install
from worker.app import app

install(app)

__all__ = ["app"]
