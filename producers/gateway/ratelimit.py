"""A request rate per client, counted in Redis (the `limits` package), so every gateway process
shares one count. Over the rate: 429 with Retry-After."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from shared.errors import error
from shared.settings import Settings

log = logging.getLogger("schedq.gateway")


@lru_cache(maxsize=4)
def _limiter(broker_url: str, rate: str) -> tuple[MovingWindowRateLimiter, list[RateLimitItem]]:
    if broker_url.startswith(("redis://", "rediss://")):
        storage = storage_from_string(broker_url, wrap_exceptions=True, socket_timeout=2)
    else:  # an AMQP broker: no shared store, so each gateway process counts on its own
        storage = storage_from_string("memory://")
    assert isinstance(storage, Storage)  # the synchronous kind (not limits.aio)
    return MovingWindowRateLimiter(storage), parse_many(rate)


def check_rate(settings: Settings, client: str, cost: int = 1) -> None:
    limiter, items = _limiter(settings.broker_url, settings.api_rate_limit)
    try:
        for item in items:
            if not limiter.hit(item, "schedq-api", client, cost=cost):
                reset, _remaining = limiter.get_window_stats(item, "schedq-api", client)
                wait = max(1, round(reset - time.time()))
                raise error("RATE_LIMITED", seconds=wait, retry_after=wait)
    except StorageError as exc:
        # Redis down: the broker is down too and submits fail on publish; do not also refuse
        # reads. Logged once per request, without the client's payload.
        log.warning("rate limit not checked: %s", type(exc).__name__)
