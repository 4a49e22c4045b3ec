"""Every module that binds a handler, imported for that effect (the executor imports this).

Each module binds its kinds with ``@handles`` beside the service function. Calendar sync and
publish are bound by ``worker.calendar.jobs``, whose thin wrappers import the heavy modules on
the first job of their kind (tests/unit/test_worker_imports.py keeps it so).
"""

from __future__ import annotations

from worker.calendar import jobs as calendar_jobs
from worker.calendar import links as calendar_links
from worker.scheduling import appointments, closures, holidays, plans

MODULES = (plans, closures, holidays, appointments, calendar_links, calendar_jobs)
