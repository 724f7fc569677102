"""The edge policies as the gateway hosts them: alone (embedded default) or behind Kong's plugins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from fastapi import Request

from gateway.auth import CustomerPrincipal, OperatorPrincipal, PartnerPrincipal
from gateway.clients import Clients
from gateway.config import GatewaySettings
from gateway.idempotency import Idempotency
from gateway.policies import trusted_headers
from gateway.policies.app_registry import AppRegistry
from gateway.policies.denial import PolicyDenied, unauthenticated
from gateway.policies.identity_keys import IdentityKeys
from gateway.policies.lockout import AuthLockout
from gateway.policies.partner_signature import CHALLENGE, PartnerKeySource, PartnerSignaturePolicy
from gateway.policies.signing import SCHEME, TIMESTAMP_HEADER, EdgeRequest
from gateway.policies.store import EdgeStore, open_store
from gateway.policies.token_cache import VerifiedTokens
from gateway.policies.tokens import AppTokenPolicy, CustomerClaims, JwksCache, OperatorTokenPolicy
from gateway.problems import Problem
from gateway.ratelimit import RateLimiter
from services.runtime.pki import own_identity

T = TypeVar("T")


async def edge_request(request: Request) -> EdgeRequest:
    """The request as a signature covers it: the raw path and query as sent, the headers, the body."""
    return EdgeRequest(
        method=request.method,
        raw_path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"),
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=request.headers,
        body=await request.body(),
    )


def _problem(denied: PolicyDenied) -> Problem:
    return Problem(denied.status, denied.code, denied.detail, headers=denied.headers, extra=denied.extra)


class AppTokens:
    """Customers of sibling apps: a token whose audience is the app in the path."""

    def __init__(self, *, policy: AppTokenPolicy, kong_secret: str) -> None:
        self._policy = policy
        self._kong_secret = kong_secret

    def require_app(self, app_id: str) -> None:
        """Raises PolicyDenied 404 app_not_found unless the app is registered."""
        self._policy.require_app(app_id)

    async def check_app(self, app_id: str) -> None:
        """`require_app`: on the event loop while the registry is fresh, else in a thread (asks identity)."""
        if self._policy.app_known_inline(app_id):
            self._policy.require_app(app_id)
        else:
            await asyncio.to_thread(self._policy.require_app, app_id)

    async def authenticate(self, request: Request) -> CustomerPrincipal:
        app_id = request.path_params.get("app_id")
        if not app_id:
            raise Problem(401, "unauthenticated", "customer routes live under /v1/apps/{app_id}/")
        try:
            if self._kong_secret:
                await self.check_app(app_id)
                claims = trusted_headers.read_customer(
                    request.headers, secret=self._kong_secret, app_id=app_id
                )
            else:
                authorization = request.headers.get("authorization")
                if self._policy.answers_inline(authorization=authorization, app_id=app_id):
                    # a kept verification: no thread hop (a hop costs more than the check)
                    claims = self._policy.authenticate(authorization=authorization, app_id=app_id)
                else:
                    claims = await asyncio.to_thread(
                        self._policy.authenticate, authorization=authorization, app_id=app_id
                    )
        except PolicyDenied as denied:
            raise _problem(denied) from None
        return _customer(claims)

    async def verify(self, token: str, *, app_id: str) -> CustomerPrincipal:
        """A customer access token presented in a request body (RFC 8693 `subject_token`), not in the
        Authorization header: verified here by either host, Kong has not seen it."""
        try:
            claims = await asyncio.to_thread(
                self._policy.authenticate, authorization=f"Bearer {token}", app_id=app_id
            )
        except PolicyDenied as denied:
            raise _problem(denied) from None
        return _customer(claims)


def _customer(claims: CustomerClaims) -> CustomerPrincipal:
    return CustomerPrincipal(
        customer_id=claims.customer_id,
        app_id=claims.app_id,
        assurance_level=claims.assurance_level,
        scopes=claims.scopes,
        token_id=claims.token_id,
    )


class PartnerSignatures:
    """Partner platforms: a signature over the raw request (verified over the body bytes read once).

    `nonces_since`: when the nonces live in this process's memory, the time they start from; a
    request signed before it may have been seen by the previous process, so it is refused (the
    partner signs again). None when nonces outlive the process (Redis, the SQLite file).
    """

    def __init__(
        self, *, policy: PartnerSignaturePolicy, kong_secret: str, nonces_since: float | None = None
    ) -> None:
        self._policy = policy
        self._kong_secret = kong_secret
        self._nonces_since = nonces_since

    async def authenticate(self, request: Request) -> PartnerPrincipal:
        try:
            if self._kong_secret:
                partner = trusted_headers.read_partner(request.headers, secret=self._kong_secret)
            else:
                signed = await edge_request(request)
                if self._policy.answers_inline(signed):
                    partner = self._policy.authenticate(signed)  # no thread hop: it costs more
                else:
                    partner = await asyncio.to_thread(self._policy.authenticate, signed)
                self._refuse_signed_before_start(request.headers.get(TIMESTAMP_HEADER, ""))
        except PolicyDenied as denied:
            challenge = denied.headers.get("WWW-Authenticate", "")
            if denied.status == 401 and not challenge.startswith(SCHEME):
                # behind Kong too, partners are challenged to sign, never to bring a bearer token
                denied.headers["WWW-Authenticate"] = CHALLENGE
            raise _problem(denied) from None
        return PartnerPrincipal(partner_id=partner.partner_id, key_id=partner.key_id)

    def _refuse_signed_before_start(self, timestamp: str) -> None:
        if self._nonces_since is not None and int(timestamp) < int(self._nonces_since):
            raise unauthenticated(
                "signature_expired", "signed before this gateway started remembering nonces; sign again"
            )


class OperatorTokens:
    """Operations staff: an operator token (role, and head office or one branch)."""

    def __init__(self, *, policy: OperatorTokenPolicy, kong_secret: str) -> None:
        self._policy = policy
        self._kong_secret = kong_secret

    async def authenticate(self, request: Request) -> OperatorPrincipal:
        try:
            if self._kong_secret:
                claims = trusted_headers.read_operator(request.headers, secret=self._kong_secret)
            else:
                authorization = request.headers.get("authorization")
                claims = await asyncio.to_thread(self._policy.authenticate, authorization=authorization)
        except PolicyDenied as denied:
            raise _problem(denied) from None
        return OperatorPrincipal(operator_id=claims.operator_id, role=claims.role, branch=claims.branch)


@dataclass
class Edge:
    settings: GatewaySettings
    store: EdgeStore
    apps: AppRegistry
    lockout: AuthLockout
    app_tokens: AppTokens
    partner_signatures: PartnerSignatures
    operator_tokens: OperatorTokens
    rate_limits: RateLimiter
    idempotency: Idempotency
    identity_keys: IdentityKeys | None = None

    @classmethod
    async def start(cls, *, settings: GatewaySettings, clients: Clients) -> Edge:
        """Keys come from the identity service; the store is Redis or the shared SQLite file."""
        keys = IdentityKeys(
            settings.identity_addr,
            identity=own_identity(settings, "gateway"),
            key_ttl_s=settings.partner_key_ttl_s,
        )
        edge = cls.build(
            settings=settings, partner_keys=keys, jwks_fetch=keys.jwks_json, app_ids_fetch=keys.app_ids
        )
        edge.identity_keys = keys
        return edge

    @classmethod
    def build(
        cls,
        *,
        settings: GatewaySettings,
        partner_keys: PartnerKeySource,
        jwks_fetch: Callable[[], str],
        app_ids_fetch: Callable[[], Iterable[str]],
    ) -> Edge:
        store = open_store(
            redis_url=settings.redis_url,
            sqlite_path=settings.edge_store_file(),
            memory=settings.edge_store_kind() == "memory",
        )
        jwks = JwksCache(
            jwks_fetch,
            max_age_s=settings.jwks_max_age_s,
            min_refresh_interval_s=settings.jwks_min_refresh_interval_s,
        )
        lockout = AuthLockout(store=store)
        apps = AppRegistry(app_ids_fetch, max_age_s=settings.app_registry_max_age_s)
        secret = settings.kong_shared_secret if settings.trust_kong_headers else ""
        signatures = PartnerSignaturePolicy(
            keys=partner_keys,
            store=store,
            window_s=settings.signature_window_s,
            nonce_ttl_s=settings.nonce_ttl_s,
            lockout=lockout,
            explain_failures=settings.signature_help,
        )
        return cls(
            settings=settings,
            store=store,
            apps=apps,
            lockout=lockout,
            app_tokens=AppTokens(
                policy=AppTokenPolicy(jwks, ended_sessions=store, apps=apps, cache=_token_cache(settings)),
                kong_secret=secret,
            ),
            partner_signatures=PartnerSignatures(
                policy=signatures, kong_secret=secret, nonces_since=getattr(store, "started_at", None)
            ),
            operator_tokens=OperatorTokens(
                policy=OperatorTokenPolicy(jwks, revoked=store, cache=_token_cache(settings)),
                kong_secret=secret,
            ),
            rate_limits=RateLimiter(
                store=store, limits=settings.rate_limits, window_s=settings.rate_limit_window_s
            ),
            idempotency=Idempotency(
                store=store, ttl_s=settings.idempotency_ttl_s, lease_s=settings.idempotency_lease_s
            ),
        )

    async def authenticating(self, attempt: Callable[[], Awaitable[T]], *, kind: str, client_id: str) -> T:
        """A credential check of one claimed client: 429 while it is locked out, failures counted."""
        try:
            await asyncio.to_thread(self.lockout.check, kind=kind, client_id=client_id)
        except PolicyDenied as denied:
            raise _problem(denied) from None
        try:
            return await attempt()
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                await asyncio.to_thread(self.lockout.failed, kind=kind, client_id=client_id)
            raise

    async def admit(self, request: Request, *, group: str, consumer: str) -> None:
        """After authentication: count the request against the consumer's quota, then its Idempotency-Key."""
        await self.rate_limits.admit_request(request, group=group, consumer=consumer)
        await self.idempotency.begin(request, principal=consumer)

    async def close(self) -> None:
        if self.identity_keys is not None:
            self.identity_keys.close()
        self.store.close()


def _token_cache(settings: GatewaySettings) -> VerifiedTokens | None:
    entries = settings.token_cache_entries
    return VerifiedTokens(max_entries=entries) if entries else None


def server_options(settings: GatewaySettings) -> dict[str, object]:
    """uvicorn options of the edge: forwarding headers are honoured from the trusted proxies only."""
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
