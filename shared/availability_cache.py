"""Two cache layers for availability answers: in-process LRU+TTL (cachetools), then Redis.

Keys include the doctor's ``schedule_version``; every applied change bumps it, so an entry can
never be served for a schedule it does not describe (TTL only bounds memory). A second,
version-less "last answer" entry per request is kept for one purpose: when PostgreSQL cannot be
reached, the reader returns it marked ``possibly_stale``. Writes never read either.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, cast

import redis as redis_lib
from cachetools import LRUCache, TTLCache
from prometheus_client import Counter

log = logging.getLogger("schedq.cache")

CACHE_REQUESTS = Counter(
    "schedq_cache_requests_total",
    "Availability cache lookups by layer (local, redis, last) and result (hit, miss, error).",
    ["layer", "result"],
)
LOCAL_TTL_SECONDS = 60
REDIS_TTL_SECONDS = 600
LAST_TTL_SECONDS = 7 * 24 * 3600
PREFIX = "schedq:availability"

Answer = dict[str, Any]


def request_key(doctor_id: str, start: str, end: str) -> str:
    return f"{doctor_id}|{start}|{end}"


class AvailabilityCache:
    def __init__(self, redis_url: str | None, maxsize: int = 2048) -> None:
        self._local: TTLCache[str, Answer] = TTLCache(maxsize=maxsize, ttl=LOCAL_TTL_SECONDS)
        self._last: LRUCache[str, Answer] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self._redis = (
            redis_lib.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            if redis_url and redis_url.startswith(("redis://", "rediss://", "unix://"))
            else None
        )

    @staticmethod
    def _key(request: str, version: int) -> str:
        return f"{PREFIX}:v{version}:{request}"

    def get(self, request: str, version: int) -> Answer | None:
        key = self._key(request, version)
        with self._lock:
            answer = self._local.get(key)
        CACHE_REQUESTS.labels("local", "hit" if answer is not None else "miss").inc()
        if answer is not None or self._redis is None:
            return answer
        try:
            raw = cast("bytes | None", self._redis.get(key))  # a sync client: never awaitable
        except redis_lib.RedisError:
            CACHE_REQUESTS.labels("redis", "error").inc()
            return None
        CACHE_REQUESTS.labels("redis", "hit" if raw is not None else "miss").inc()
        if raw is None:
            return None
        answer = json.loads(raw)
        with self._lock:
            self._local[key] = answer
        return answer

    def put(self, request: str, version: int, answer: Answer) -> None:
        key = self._key(request, version)
        with self._lock:
            self._local[key] = answer
            self._last[request] = answer
        if self._redis is None:
            return
        data = json.dumps(answer)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(key, data, ex=REDIS_TTL_SECONDS)
            pipe.set(f"{PREFIX}:last:{request}", data, ex=LAST_TTL_SECONDS)
            pipe.execute()
        except redis_lib.RedisError:
            CACHE_REQUESTS.labels("redis", "error").inc()
            log.warning("availability cache: Redis unavailable, answer kept in process only")

    def last(self, request: str) -> Answer | None:
        """The newest answer for this request, whatever its version (PostgreSQL is down)."""
        with self._lock:
            answer = self._last.get(request)
        if answer is None and self._redis is not None:
            try:
                raw = cast("bytes | None", self._redis.get(f"{PREFIX}:last:{request}"))
                answer = json.loads(raw) if raw is not None else None
            except redis_lib.RedisError:
                CACHE_REQUESTS.labels("redis", "error").inc()
        CACHE_REQUESTS.labels("last", "hit" if answer is not None else "miss").inc()
        return answer
