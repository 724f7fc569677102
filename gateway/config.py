"""Gateway settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from services.runtime.config import Settings


class GatewaySettings(Settings):
    # the gateway's HTTP address
    http_host: str = "127.0.0.1"
    # the gateway's HTTP port
    http_port: int = 8080
    # prefix of every problem `type` URI; empty = relative (`/problems/<code>`, resolved against the
    # request's URL); set to the public address, e.g. https://api.bank.example, for absolute URIs
    problem_base_url: str = ""
    # request body limit (413 `body_too_large` beyond)
    max_body_bytes: int = 1_048_576
    # Request deadline for the whole request; gRPC calls get what is left of it.
    request_timeout_s: float = 5.0
    # Behind Kong, the edge policies already ran there; the gateway then trusts only Kong's headers.
    trust_kong_headers: bool = False
    # the secret Kong adds to every request it forwards (16 characters or more with TRUST_KONG_HEADERS)
    kong_shared_secret: str = ""
    # peers whose X-Forwarded-For names the client (Kong in compose); default: trust none
    forwarded_allow_ips: str = ""
    # browser origins allowed to call the API (JSON list); none by default
    cors_allow_origins: list[str] = []
    # Worker processes serving the HTTP port (uvicorn workers); `make run` picks 1 without Redis, one
    # per core (at most 4) with it (docs/performance.md, "Workers").
    workers: int = Field(default=1, ge=1, le=64)
    # Edge state (nonces, rate limits, idempotency, identity's marks): Redis if REDIS_URL is set;
    # else "memory" (per-request state in this process, marks in the SQLite file; one process only)
    # or "sqlite" (all of it in the SQLite file every process on this machine shares). Several
    # workers without Redis use the file. See docs/security.md, "Edge state".
    redis_url: str = ""
    # where edge state lives without Redis: `memory` (one process) or `sqlite` (replicas on one machine)
    edge_store: Literal["memory", "sqlite"] = "memory"
    # the SQLite file of the edge store (default `<VAR_DIR>/edge.db`)
    edge_store_path: Path | None = None
    # partner signatures: accepted clock difference of `X-Lattice-Timestamp`, in seconds
    signature_window_s: int = 300
    # A partner whose signature does not match is shown the canonical request the edge computed
    # (never the secret or the expected signature). Unset: on unless ENVIRONMENT=production; never
    # allowed in production.
    explain_signature_failures: bool | None = None
    # partner signatures: how long a nonce is remembered (at least twice the window)
    nonce_ttl_s: int = 600
    # partner signing keys: how long the gateway caches them from identity
    partner_key_ttl_s: float = 60.0
    # a key identity stops publishing (an emergency rotation) is refused at the edge within this
    jwks_max_age_s: float = 60.0
    # at most one refetch per second for unknown key ids: a new key's tokens pass within a second of
    # a rotation, and forged key ids cannot make the edge hammer identity
    jwks_min_refresh_interval_s: float = 1.0
    # registered app ids: refetched when older, and at most once a second for an unknown id
    app_registry_max_age_s: float = 30.0
    # verified access tokens kept until expiry (per kind of token); 0: verify every signature
    token_cache_entries: int = Field(default=10_000, ge=0)
    # rate-limit window, in seconds
    rate_limit_window_s: int = 60
    # requests per window per consumer and route group (JSON)
    rate_limits: dict[str, int] = {"partner": 600, "app": 300, "ops": 600, "public": 120, "click": 6000}
    # how long an `Idempotency-Key` and its answer are kept
    idempotency_ttl_s: int = 24 * 3600
    # how long a request holds its `Idempotency-Key` while running (409 to a retry meanwhile)
    idempotency_lease_s: int = 60

    @model_validator(mode="after")
    def _kong_needs_a_secret(self) -> GatewaySettings:
        if self.trust_kong_headers and len(self.kong_shared_secret) < 16:
            raise ValueError("TRUST_KONG_HEADERS needs KONG_SHARED_SECRET (16 characters or more)")
        return self

    @model_validator(mode="after")
    def _no_signature_help_in_production(self) -> GatewaySettings:
        if self.environment == "production" and self.explain_signature_failures:
            raise ValueError("EXPLAIN_SIGNATURE_FAILURES is for development and test, not production")
        return self

    @property
    def signature_help(self) -> bool:
        """Whether `signature_invalid` problems carry the canonical request (see the setting)."""
        if self.explain_signature_failures is None:
            return self.environment != "production"
        return self.explain_signature_failures

    def edge_store_kind(self) -> str:
        """Where this gateway keeps its edge state: "redis", "sqlite" or "memory"."""
        if self.redis_url:
            return "redis"
        return "sqlite" if self.edge_store == "sqlite" or self.workers > 1 else "memory"

    def edge_store_file(self) -> Path:
        """The SQLite file every gateway replica on this machine shares when no Redis is configured."""
        return self.edge_store_path or self.var_dir / "edge.db"
