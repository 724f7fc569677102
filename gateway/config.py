"""Gateway settings."""

from __future__ import annotations

from services.runtime.config import Settings


class GatewaySettings(Settings):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    max_body_bytes: int = 1_048_576
    # Request deadline for the whole request; gRPC calls get what is left of it.
    request_timeout_s: float = 5.0
    # Behind Kong, the edge policies already ran there; the gateway then trusts only Kong's headers.
    trust_kong_headers: bool = False
    kong_shared_secret: str = ""
    cors_allow_origins: list[str] = []
