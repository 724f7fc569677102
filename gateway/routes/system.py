"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

router = APIRouter(tags=["system"])


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    services: dict[str, str] = Field(
        description="each service's gRPC health: SERVING, NOT_SERVING, UNAVAILABLE..."
    )
    nats: bool = Field(description="connected to NATS")


@router.get("/healthz", operation_id="check_liveness", summary="Liveness: the gateway process answers")
async def healthz() -> dict[str, str]:
    """Answers 200 as long as the gateway process serves requests; it checks nothing downstream."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="check_readiness",
    summary="Readiness: every downstream service and NATS are reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: a service or NATS is unreachable"}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when every downstream gRPC service reports SERVING and NATS is connected, else 503 with
    the state of each.
    """
    services = await request.app.state.clients.health()  # asks each service's health; never raises
    nats_ok = request.app.state.bus.nc.is_connected
    ready = nats_ok and all(status == "SERVING" for status in services.values())
    body = {"status": "ready" if ready else "not_ready", "services": services, "nats": nats_ok}
    return JSONResponse(body, status_code=200 if ready else 503)
