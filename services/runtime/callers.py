"""Which service identities may call which RPC: every RPC is declared, nothing is allowed by default."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from services.runtime.pki import IDENTITIES

logger = logging.getLogger(__name__)

GATEWAY = frozenset({"gateway"})
TOOLS = frozenset({"tools"})
# Health checks are open to every identity the CA vouches for (the supervisor, load balancers' probes).
PLATFORM_RPCS: dict[str, frozenset[str]] = {"/grpc.health.v1.Health/Check": frozenset(IDENTITIES)}


class CallerPolicy:
    """{"/package.Service/Method": allowed identities}, declared by each service next to its servicer."""

    def __init__(self, *, tools: bool = True) -> None:
        self._allowed: dict[str, frozenset[str]] = dict(PLATFORM_RPCS)
        # In production the "tools" identity (demo loader, bench) only checks health.
        self._tools = tools

    def declare(self, service: ServiceDescriptor, table: Mapping[str, Iterable[str]]) -> None:
        """Allow `table[method]` on each method of `service`; a method left out stays refused to all."""
        methods = {m.name for m in service.methods}
        for method in sorted(set(table) - methods):
            logger.warning("%s has no RPC %s (declared callers ignored)", service.full_name, method)
        for method, callers in table.items():
            allowed = frozenset(callers)
            if not allowed <= set(IDENTITIES):
                unknown = sorted(allowed - set(IDENTITIES))
                raise ValueError(f"{service.full_name}/{method}: unknown identities {unknown}")
            self._allowed[f"/{service.full_name}/{method}"] = allowed if self._tools else allowed - TOOLS
        for missing in sorted(methods - set(table)):
            logger.error("%s/%s has no declared callers: every call is refused", service.full_name, missing)

    def allowed(self, method: str) -> frozenset[str]:
        return self._allowed.get(method, frozenset())

    def declared(self) -> dict[str, frozenset[str]]:
        return dict(self._allowed)


def peer_identity(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The identity in the verified client certificate (its common name), or None without one."""
    auth = context.auth_context()
    names = list(auth.get("x509_common_name") or [])
    if len(names) != 1:
        return None
    name = names[0].decode() if isinstance(names[0], bytes) else str(names[0])
    return name if name in IDENTITIES else None
