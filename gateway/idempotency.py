"""Idempotency-Key on POSTs: the first request's response is kept for 24 h and replayed to retries.

Same key and body -> the original response; same key, other body -> 422; same key while the first
request is still being served -> 409. The claim is taken after authentication (keys are per
principal); EdgeMiddleware stores the response or swaps in the replay.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from typing import Annotated, TypeVar

import msgpack
from fastapi import Header
from starlette.requests import Request

from gateway.policies.store import EdgeStore, OperationClaim, runs_inline
from gateway.problems import Problem

T = TypeVar("T")
CLAIM_KEY = "idempotency_claim"
REPLAY_KEY = "idempotency_replay"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[A-Za-z0-9._:+/=~-]{1,128}$")
# Headers that describe this very request rather than the original response.
_NOT_REPLAYED = {
    b"x-request-id",
    b"date",
    b"server",
    b"retry-after",
    b"ratelimit-limit",
    b"ratelimit-remaining",
    b"ratelimit-reset",
    b"ratelimit-policy",
}

IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:+/=~-]+$",
        description="Retries with the same key and body replay the first response (kept 24 h).",
    ),
]


class Idempotency:
    def __init__(self, *, store: EdgeStore, ttl_s: int, lease_s: int) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._lease_s = lease_s
        self._inline = runs_inline(store)

    async def _call(self, method: Callable[..., T], *args: object, **kwargs: object) -> T:
        """In memory on the event loop; a file or Redis in a worker thread."""
        if self._inline:
            return method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def begin(self, request: Request, *, principal: str) -> None:
        """Claim the request's key for `principal`, or answer as the key's history demands."""
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or key is None:
            return
        if not _KEY.match(key):
            raise Problem(422, "idempotency_key_invalid", "Idempotency-Key: 1-128 of A-Z a-z 0-9 ._:+/=~-")
        body = await request.body()
        target = f"{request.method} {request.url.path}?{request.url.query}\n".encode()
        fingerprint = hashlib.sha256(target + body).hexdigest()
        owner = hashlib.sha256(principal.encode()).hexdigest()[:32]
        claim, record = await self._call(
            self._store.begin_operation, f"idem:{owner}:{key}", fingerprint=fingerprint, lease_s=self._lease_s
        )
        state = request.scope.setdefault("state", {})
        if claim is not None:
            state[CLAIM_KEY] = claim
            return
        assert record is not None
        if record.fingerprint != fingerprint:
            raise Problem(422, "idempotency_key_reused", "this Idempotency-Key was used with another request")
        if record.state == "in_flight":
            raise Problem(
                409,
                "idempotency_in_flight",
                "a request with this key is in progress",
                headers={"Retry-After": "1"},
            )
        # EdgeMiddleware answers with the stored response instead of this placeholder.
        state[REPLAY_KEY] = record.response
        raise Problem(409, "idempotency_replay", "replayed")

    async def finish(self, claim: OperationClaim, *, status: int, headers: list, body: bytes) -> None:
        """Keep a final response (below 500) for replays; forget the key after a server error."""
        if status >= 500:
            await self.release(claim)
            return
        kept = [[k, v] for k, v in headers if k.lower() not in _NOT_REPLAYED]
        blob = msgpack.packb({"s": status, "h": kept, "b": body}, use_bin_type=True)
        await self._call(self._store.finish_operation, claim, response=blob, ttl_s=self._ttl_s)

    async def release(self, claim: OperationClaim) -> None:
        await self._call(self._store.release_operation, claim)


def stored_response(blob: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a stored response, marked as replayed."""
    data = msgpack.unpackb(blob, raw=False)
    headers = [(bytes(k), bytes(v)) for k, v in data["h"]]
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    return int(data["s"]), headers, bytes(data["b"])
