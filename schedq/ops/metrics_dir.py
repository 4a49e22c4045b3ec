"""Prepare prometheus-client's multiprocess folder before a worker imports any metric.

prometheus-client picks its storage when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``.
So the start command sets the variable first, and wipes the previous run's files: counters
from a dead node must not be merged into the new one's totals.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger("schedq.metrics")


def prepare(path: str | os.PathLike[str] | None = None, export: bool = True) -> Path:
    """Create (or empty) the folder and (unless told not to) export it; returns it."""
    chosen = (
        path or os.environ.get(ENV) or Path(tempfile.gettempdir()) / f"schedq-metrics-{os.getpid()}"
    )
    folder = Path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    # Only prometheus-client's own files: the variable may point at a folder with other content.
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    if not export:
        return folder
    os.environ[ENV] = str(folder)
    if "prometheus_client.values" in sys.modules:
        log.warning("prometheus_client was imported before %s was set: single-process metrics", ENV)
    return folder
