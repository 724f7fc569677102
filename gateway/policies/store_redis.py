"""EdgeStore on Redis, for gateway replicas and Kong nodes on several hosts (compose deployment)."""

from __future__ import annotations

import time
import uuid

import redis

from gateway.policies.store import OperationClaim, OperationRecord, WindowCount

_PREFIX = "lattice:edge:"

# Atomic claim-or-read of an idempotency record, a hash {f: fingerprint, s: state, o: owner, r: response}.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HMGET', KEYS[1], 'f', 's', 'r')
end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', 'in_flight', 'o', ARGV[2], 'r', '')
redis.call('EXPIRE', KEYS[1], ARGV[3])
return false
"""
_FINISH = """
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'done', 'r', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return 0
"""
_RELEASE = """
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] and redis.call('HGET', KEYS[1], 's') == 'in_flight' then
  redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisEdgeStore:
    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._begin = self._redis.register_script(_BEGIN)
        self._finish = self._redis.register_script(_FINISH)
        self._release = self._redis.register_script(_RELEASE)

    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        return bool(self._redis.set(_PREFIX + key, b"1", nx=True, ex=ttl_s))

    def is_claimed(self, key: str) -> bool:
        return bool(self._redis.exists(_PREFIX + key))

    def hit(self, key: str, *, window_s: int) -> WindowCount:
        now = time.time()
        window = int(now // window_s)
        ends = (window + 1) * window_s
        name = f"{_PREFIX}rl:{key}:{window}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, window_s + 1)
        count, _ = pipe.execute()
        return WindowCount(count=int(count), reset_s=max(1, int(ends - now + 0.999)))

    def begin_operation(
        self, key: str, *, fingerprint: str, lease_s: int
    ) -> tuple[OperationClaim | None, OperationRecord | None]:
        owner = uuid.uuid4().hex
        found = self._begin(keys=[_PREFIX + key], args=[fingerprint, owner, lease_s])
        if not found:
            return OperationClaim(key=key, owner=owner), None
        fp, state, response = found
        return None, OperationRecord(fingerprint=fp.decode(), state=state.decode(), response=response or b"")

    def finish_operation(self, claim: OperationClaim, *, response: bytes, ttl_s: int) -> None:
        self._finish(keys=[_PREFIX + claim.key], args=[claim.owner, response, ttl_s])

    def release_operation(self, claim: OperationClaim) -> None:
        self._release(keys=[_PREFIX + claim.key], args=[claim.owner])

    def close(self) -> None:
        self._redis.close()
