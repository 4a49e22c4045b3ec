"""The audit trail of accepted API requests: which client had which jobs recorded, and how.

One row per job in the existing append-only ``audit_log`` (actor = the client's name), written
after the ledger commit; the worker's own audit rows name the same client as the job's
submitter. No payload is copied here: the ledger holds it.
"""

from __future__ import annotations

import json

from shared.ledger.connection import connection
from shared.ledger.submit import JobView
from shared.settings import Settings

_INSERT = """
    INSERT INTO audit_log (job_id, correlation_id, actor, entity, entity_id, action, after)
    SELECT j, c, %(actor)s, 'job', j::text, 'accepted', CAST(%(after)s AS jsonb)
    FROM unnest(CAST(%(jobs)s AS uuid[]), CAST(%(correlations)s AS text[])) AS t(j, c)
"""


def audit_accepted(settings: Settings, client: str, views: list[JobView], route: str) -> None:
    if not views:
        return
    params = {
        "actor": client,
        "after": json.dumps({"via": "api", "route": route}),
        "jobs": [v.id for v in views],
        "correlations": [v.correlation_id for v in views],
    }
    with connection(settings.database_url) as conn:
        conn.execute(_INSERT, params)
