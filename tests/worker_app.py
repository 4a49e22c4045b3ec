"""The Celery app of the workers tests start: the product's app plus the test-only probe kinds.

``celery -A tests.worker_app worker``: the probe kinds are installed before ``worker.app`` is
imported, so it registers a task for them like for every product kind.
"""

from __future__ import annotations

from tests import probe_kinds

probe_kinds.install()

from worker.app import app  # noqa: E402  (after the probe kinds are installed)

__all__ = ["app"]
