"""From the identity service over (synchronous) gRPC: partner signing keys, the token JWKS, app ids."""

from __future__ import annotations

import threading
import time

import grpc
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from gateway.policies.denial import PolicyDenied
from gateway.policies.partner_signature import PartnerKey
from services.runtime.grpc_client import open_sync_channel
from services.runtime.pki import ServiceIdentity


class IdentityKeys:
    """Partner signing keys (cached briefly, misses too) and the JWKS document, fetched from identity."""

    def __init__(
        self,
        addr: str,
        *,
        identity: ServiceIdentity,
        timeout_s: float = 2.0,
        key_ttl_s: float = 60.0,
        miss_ttl_s: float = 5.0,
    ) -> None:
        self._channel = open_sync_channel(addr, peer="identity", identity=identity)
        self._stub = identity_pb2_grpc.RegistryServiceStub(self._channel)
        self._timeout_s = timeout_s
        self._key_ttl_s = key_ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._cache: dict[tuple[str, str], tuple[float, PartnerKey | None]] = {}
        self._lock = threading.Lock()

    def partner_key(self, *, partner_id: str, key_id: str) -> PartnerKey | None:
        """The key, or None when identity does not know it (rotation dates are checked by the caller)."""
        now = time.monotonic()
        cached = self._cache.get((partner_id, key_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        key = self._fetch_partner_key(partner_id, key_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(partner_id, key_id)] = (now + (self._key_ttl_s if key else self._miss_ttl_s), key)
        return key

    def holds(self, *, partner_id: str, key_id: str, margin_s: float = 1.0) -> bool:
        """True when `partner_key` answers from the cache (for at least `margin_s` more), not identity."""
        cached = self._cache.get((partner_id, key_id))
        return cached is not None and cached[0] > time.monotonic() + margin_s

    def _fetch_partner_key(self, partner_id: str, key_id: str) -> PartnerKey | None:
        request = pb.GetPartnerSigningKeyRequest(partner_id=partner_id, key_id=key_id)
        try:
            resp = self._stub.GetPartnerSigningKey(request, timeout=self._timeout_s)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise PolicyDenied(503, "keys_unavailable", "signing keys are unavailable, retry later") from exc
        if resp.partner_id != partner_id or resp.key_id != key_id:
            return None
        return PartnerKey(
            partner_id=resp.partner_id,
            key_id=resp.key_id,
            secret=resp.secret,
            not_before=resp.not_before.ToSeconds() if resp.HasField("not_before") else 0.0,
            not_after=resp.not_after.ToSeconds() if resp.HasField("not_after") else None,
        )

    def app_ids(self) -> list[str]:
        """The registered app ids, every page (raises grpc.RpcError when identity cannot answer)."""
        found: list[str] = []
        token = ""
        while True:
            request = pb.ListAppsRequest(page_size=100, page_token=token)
            resp = self._stub.ListApps(request, timeout=self._timeout_s)
            found.extend(a.app_id for a in resp.apps)
            token = resp.next_page_token
            if not token:
                return found

    def jwks_json(self) -> str:
        """The JWKS document (raises grpc.RpcError when identity cannot answer)."""
        return str(self._stub.GetJwks(pb.GetJwksRequest(), timeout=self._timeout_s).jwks_json)

    def close(self) -> None:
        self._channel.close()
