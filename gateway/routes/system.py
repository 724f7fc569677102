"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.clients import ClientsDep

router = APIRouter(tags=["system"])


@router.get("/healthz", operation_id="check_liveness", summary="Liveness: the gateway process answers")
async def healthz() -> dict[str, str]:
    """Answers 200 as long as the gateway process serves requests; it checks nothing downstream."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="check_readiness",
    summary="Readiness: every downstream service and NATS are reachable",
)
async def readyz(request: Request, clients: ClientsDep) -> JSONResponse:
    """200 when every downstream gRPC service reports SERVING and NATS is connected, else 503 with
    the state of each.
    """
    services = await clients.health()
    nats_ok = request.app.state.bus.nc.is_connected
    ready = nats_ok and all(status == "SERVING" for status in services.values())
    body = {"status": "ready" if ready else "not_ready", "services": services, "nats": nats_ok}
    return JSONResponse(body, status_code=200 if ready else 503)
