"""Short calendar timeouts and a small breaker for tests (read by workers these tests start)."""

import os

for key, value in {
    "SCHEDQ_CALENDAR_HTTP_TIMEOUT": "1",
    "SCHEDQ_CALENDAR_BREAKER_FAIL_MAX": "3",
    "SCHEDQ_CALENDAR_BREAKER_RESET_SECONDS": "2",
    "SCHEDQ_CALENDAR_MAX_RESPONSE_BYTES": "65536",
    "SCHEDQ_CALENDAR_REQUEST_DEADLINE_SECONDS": "5",
    # The test servers listen on loopback: named explicitly, as an operator would.
    "SCHEDQ_CALENDAR_ALLOWED_NETWORKS": "127.0.0.1/32",
    "SCHEDQ_CALENDAR_HORIZON_DAYS": "120",
}.items():
    os.environ.setdefault(key, value)
