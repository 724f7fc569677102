"""Identity's attributes of signed-in customers (editions, AUM tier, branch, tags), kept briefly at
the gateway: they change rarely, and slot serving and benefit claims must stay fast."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from lattice.identity.v1 import identity_pb2 as ipb

from gateway.clients import Clients, get_clients


class CustomerAttributeCache:
    def __init__(self, *, ttl_s: float = 30.0, max_entries: int = 50_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, ipb.CustomerAttributes]] = {}

    async def get(self, clients: Clients, customer_id: str) -> ipb.CustomerAttributes:
        now = time.monotonic()
        hit = self._entries.get(customer_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = await clients.identity.GetCustomerAttributes(
            ipb.GetCustomerAttributesRequest(customer_id=customer_id)
        )
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[customer_id] = (now + self._ttl_s, resp.customer)
        return resp.customer


class CustomerAttributes:
    """A dependency: look up the attributes of a customer through the gateway's one cache."""

    def __init__(self, cache: CustomerAttributeCache, clients: Clients) -> None:
        self._cache = cache
        self._clients = clients

    async def of(self, customer_id: str) -> ipb.CustomerAttributes:
        return await self._cache.get(self._clients, customer_id)


async def get_customer_attributes(  # async: FastAPI runs a plain def in a thread
    request: Request, clients: Annotated[Clients, Depends(get_clients)]
) -> CustomerAttributes:
    cache = getattr(request.app.state, "customer_attributes", None)
    if cache is None:
        cache = request.app.state.customer_attributes = CustomerAttributeCache()
    return CustomerAttributes(cache, clients)


CustomerAttributesDep = Annotated[CustomerAttributes, Depends(get_customer_attributes)]
