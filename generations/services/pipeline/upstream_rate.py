"""A token bucket per upstream account, shared by every worker on every host.

The upstream's QPS limit (50429) counts requests per account, whichever worker sends
them, so the bucket lives where all workers see it: Redis when it is configured, the
database otherwise. The bucket holds at most one token, so no burst can exceed the
configured rate within any second.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.db import OperationalError, transaction

from generations.models import RateBucket

CAPACITY = 1.0
# Calls are paced at 90% of an account's limit. A call reaches the upstream a little
# after its token is taken (database writes come between), by a varying delay: paced
# exactly at the limit, calls arrived bunched and some were refused (58 of 2,740 at
# 10 QPS in the tracker benchmark, bench/README.md); the upstream counts on arrival.
HEADROOM = 0.9


class Bucket(Protocol):
    def take(self, key: str, rate: float) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is due."""


class DatabaseBucket:
    def take(self, key: str, rate: float) -> float:
        now = time.time()
        try:
            with transaction.atomic():
                bucket, _ = RateBucket.objects.select_for_update().get_or_create(
                    key=key, defaults={"tokens": CAPACITY, "updated": now}
                )
                tokens = min(CAPACITY, bucket.tokens + (now - bucket.updated) * rate)
                if tokens >= 1.0:
                    bucket.tokens, bucket.updated = tokens - 1.0, now
                    bucket.save(update_fields=["tokens", "updated"])
                    return 0.0
        except OperationalError:
            return 0.5  # the database is busy or away: wait, do not send
        return (1.0 - tokens) / rate


# One round trip to Redis: refill by elapsed time, take a token if there is one, and
# answer 0 or the wait in milliseconds.
_REDIS_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return wait
"""


class RedisBucket:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_REDIS_SCRIPT)

    def take(self, key: str, rate: float) -> float:
        import redis

        try:
            wait_ms = int(self._script(keys=[f"jimeng:bucket:{key}"], args=[CAPACITY, rate]))
        except redis.RedisError:
            return 0.5
        return wait_ms / 1000.0


@lru_cache(maxsize=1)
def _bucket(redis_url: str) -> Bucket:
    return RedisBucket(redis_url) if redis_url else DatabaseBucket()


def take(key: str, rate: float) -> float:
    return _bucket(settings.LIMITER_REDIS_URL).take(key, rate * HEADROOM)
