"""What the three Lattice plugins share as Kong hosts them: config, the PDK request view, answers.

Not a plugin itself. Each plugin script runs its own dedicated kong-pdk plugin server
(`--no-lua-style`); every handler ends by returning (request passes) or by `kong.response.exit`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
for _path in (str(ROOT / "gen"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(1, _path)

from gateway.policies import trusted_headers  # noqa: E402
from gateway.policies.app_registry import AppRegistry  # noqa: E402
from gateway.policies.denial import PolicyDenied, problem_type  # noqa: E402
from gateway.policies.identity_keys import IdentityKeys  # noqa: E402
from gateway.policies.signing import EdgeRequest  # noqa: E402
from gateway.policies.store import EdgeStore, open_store  # noqa: E402
from gateway.policies.tokens import JwksCache  # noqa: E402
from services.runtime.config import Settings  # noqa: E402
from services.runtime.pki import own_identity  # noqa: E402

logger = logging.getLogger("lattice.kong")
# the same `type` URIs as the gateway: its /problems/<code> pages explain each code
PROBLEM_BASE_URL = os.environ.get("PROBLEM_BASE_URL", "")
TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

# Fields every Lattice plugin understands (Kong plugin schema format, as kong-pdk dumps it).
# Addresses and secrets come from the environment Kong passes on (IDENTITY_ADDR, REDIS_URL and the
# variable named by shared_secret_env), so kong.yml holds no secret.
COMMON_SCHEMA: list[dict[str, Any]] = [
    {"identity_addr": {"type": "string", "required": False}},
    {"shared_secret_env": {"type": "string", "required": True, "default": "KONG_SHARED_SECRET"}},
]
DEFAULT_STORE_PATH = "/usr/local/kong/lattice-edge.db"

_shared: dict[str, Any] = {}
_shared_lock = threading.RLock()


def shared(kind: str, config: dict[str, Any], build: Any) -> Any:
    """One resource per kind and config for the whole plugin server (channels, stores, caches)."""
    key = kind + json.dumps(config, sort_keys=True)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = build()
        return _shared[key]


def identity_addr(config: dict[str, Any]) -> str:
    return config.get("identity_addr") or os.environ.get("IDENTITY_ADDR") or "identity:50051"


def identity_keys(config: dict[str, Any]) -> IdentityKeys:
    addr = identity_addr(config)
    # Kong's plugin servers are the "edge" identity (PKI_DIR: the CA and edge.pem / edge.key).
    build = lambda: IdentityKeys(addr, identity=own_identity(Settings(), "edge"))  # noqa: E731
    return shared("identity", {"addr": addr}, build)


def jwks_cache(config: dict[str, Any]) -> JwksCache:
    keys = identity_keys(config)
    return shared("jwks", {"addr": identity_addr(config)}, lambda: JwksCache(keys.jwks_json))


def app_registry(config: dict[str, Any]) -> AppRegistry:
    """The registered app ids, cached like the JWKS (an unknown app is 404 app_not_found)."""
    keys = identity_keys(config)
    return shared("apps", {"addr": identity_addr(config)}, lambda: AppRegistry(keys.app_ids))


def edge_store(config: dict[str, Any]) -> EdgeStore:
    """Redis (REDIS_URL) shared with the gateway replicas, else a SQLite file."""
    url, path = os.environ.get("REDIS_URL", ""), config.get("store_path") or DEFAULT_STORE_PATH
    return shared(
        "store", {"url": url, "path": path}, lambda: open_store(redis_url=url, sqlite_path=Path(path))
    )


def signature_help(config: dict[str, Any]) -> bool:
    """As GatewaySettings.signature_help: signature failures are explained outside production."""
    production = Settings().environment == "production"
    explicit = config.get("explain_signature_failures")
    if explicit is None:
        return not production
    if explicit and production:
        raise PolicyDenied(503, "edge_misconfigured", "the edge is not configured")
    return bool(explicit)


def edge_secret(config: dict[str, Any]) -> str:
    """The secret proving to the gateway that Kong set the identity headers (never in kong.yml)."""
    secret = os.environ.get(config.get("shared_secret_env") or "KONG_SHARED_SECRET", "")
    if len(secret) < 16:
        raise PolicyDenied(503, "edge_misconfigured", "the edge is not configured")
    return secret


def request_headers(kong: Any) -> dict[str, str]:
    """Lower-cased request headers; the first value of a repeated header."""
    headers: dict[str, str] = {}
    for name, value in (kong.request.get_headers() or {}).items():
        first = value[0] if isinstance(value, list) and value else value
        headers[str(name).lower()] = first.decode("latin-1") if isinstance(first, bytes) else str(first)
    return headers


def edge_request(kong: Any, headers: dict[str, str], *, with_body: bool) -> EdgeRequest:
    body = kong.request.get_raw_body() if with_body else b""
    return EdgeRequest(
        method=kong.request.get_method(),
        raw_path=kong.request.get_raw_path(),
        raw_query=kong.request.get_raw_query() or "",
        headers=headers,
        body=body.encode("utf-8") if isinstance(body, str) else (body or b""),
    )


def pass_identity(kong: Any, caller_headers: dict[str, str], identity: dict[str, str]) -> None:
    """Drop every identity header the caller sent, then set the verified ones for the gateway."""
    for name in caller_headers:
        if name.startswith(trusted_headers.PREFIX) and name not in identity:
            kong.service.request.clear_header(name)
    kong.service.request.set_headers(identity)


def deny(kong: Any, denied: PolicyDenied, path: str = "") -> None:
    """End the request with an RFC 9457 problem."""
    body = {
        "type": problem_type(denied.code, PROBLEM_BASE_URL),
        "title": TITLES.get(denied.status, "Error"),
        "status": denied.status,
        "code": denied.code,
        "detail": denied.detail,
        "instance": path,
        **denied.extra,
    }
    headers = {"Content-Type": "application/problem+json", **denied.headers}
    kong.response.exit(denied.status, json.dumps(body), headers)


def guarded(kong: Any, handle: Any) -> None:
    """Run a handler so that it always answers: a denial or any failure ends the request."""
    try:
        handle()
    except PolicyDenied as denied:
        deny(kong, denied)
    except Exception:
        logger.exception("edge plugin failed")
        deny(kong, PolicyDenied(503, "edge_unavailable", "the request could not be checked, retry later"))


def serve(name: str, plugin: type, *, version: str, priority: int, schema: list[dict[str, Any]]) -> None:
    """Start this plugin's dedicated plugin server (Kong's start_cmd; `--dump` is its query_cmd)."""
    from kong_pdk.cli import start_dedicated_server

    start_dedicated_server(name, plugin, version, priority, schema)
