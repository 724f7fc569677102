"""Container healthcheck: `healthcheck.py [--peer NAME] grpc HOST:PORT` (grpc.health.v1 over mutual
TLS, as the "tools" identity of PKI_DIR, expecting NAME's certificate) or `healthcheck.py http URL`.

Exit status 0 when the process answers healthy, 1 otherwise; used by docker-compose.yml.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_S = 2.0


def grpc_serving(addr: str, peer: str) -> bool:
    """True when the gRPC health service at `addr` (presenting `peer`'s certificate) reports SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from services.runtime.grpc_client import open_sync_channel
    from services.runtime.pki import load_identity

    identity = load_identity("tools", Path(os.environ.get("PKI_DIR", "/pki")))
    with open_sync_channel(addr, peer=peer, identity=identity) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_ok(url: str) -> bool:
    """True when `url` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:  # noqa: S310 - local probe
            return 200 <= reply.status < 300
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    peer = ""
    if len(argv) == 4 and argv[0] == "--peer":
        peer, argv = argv[1], argv[2:]
    if len(argv) != 2 or argv[0] not in ("grpc", "http") or (argv[0] == "grpc" and not peer):
        print("usage: healthcheck.py --peer NAME grpc HOST:PORT | http URL", file=sys.stderr)
        return 2
    kind, target = argv
    healthy = grpc_serving(target, peer) if kind == "grpc" else http_ok(target)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
