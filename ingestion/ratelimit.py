"""Per-project token bucket in Django's cache (local memory embedded, Redis with REDIS_URL).

Rate: SEXTANT_RATE_LIMIT_EVENTS_PER_SECOND (setting or environment, default 5000)
events per second; burst: 10x that. A request costs its number of events.
The bucket is read and written under a process lock; with several web processes
on Redis, two processes can race on one refill, which lets a burst through by at
most one request per process — acceptable for a protective limit.
When the cache itself is unreachable (Redis down) the limit lets the request
through: the store step then answers 503 with Retry-After if Redis is really
gone, and a server-side fault never turns into a quarantined payload.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)
_lock = threading.Lock()
_CACHE_DOWN = (redis.RedisError, OSError)


def rate() -> float:
    value = getattr(settings, "SEXTANT_RATE_LIMIT_EVENTS_PER_SECOND", None)
    if value is None:
        value = os.environ.get("SEXTANT_RATE_LIMIT_EVENTS_PER_SECOND", "5000")
    try:
        return max(float(value), 0.001)
    except (TypeError, ValueError):
        return 5000.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0


def take(project_id: int, cost: int, now: float | None = None) -> Decision:
    """Spend `cost` tokens of the project's bucket, or say how long to wait."""
    per_second = rate()
    capacity = per_second * 10
    now = time.time() if now is None else now
    key = f"sextant:ratelimit:{project_id}"
    try:
        return _take(key, cost, per_second, capacity, now)
    except _CACHE_DOWN as exc:
        log.warning("rate-limit cache unavailable (%s); request allowed", exc)
        return Decision(True)


def _take(key: str, cost: int, per_second: float, capacity: float, now: float) -> Decision:
    with _lock:
        tokens, stamp = cache.get(key) or (capacity, now)
        tokens = min(capacity, tokens + max(0.0, now - stamp) * per_second)
        if cost > tokens:
            cache.set(key, (tokens, now), timeout=3600)
            wait = (min(cost, capacity) - tokens) / per_second
            return Decision(False, max(1, math.ceil(wait)))
        cache.set(key, (tokens - cost, now), timeout=3600)
        return Decision(True)
