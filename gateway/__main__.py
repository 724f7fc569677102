"""python -m gateway: one process, or WORKERS processes on one port (uvicorn's worker supervisor).

Each worker sets up its own telemetry and gRPC instrumentation and builds the app (`worker_app`);
several workers keep their edge state in Redis or the shared SQLite file (GatewaySettings).
uvloop and httptools serve HTTP when installed (they are pinned in requirements.lock).
"""

from __future__ import annotations

import atexit

import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.edge import server_options
from services.runtime.telemetry import setup_telemetry


def worker_app() -> FastAPI:
    """The app of one worker process, with its own telemetry (flushed when the process exits)."""
    settings = GatewaySettings()
    telemetry = setup_telemetry("gateway", var_dir=settings.var_dir, log_level=settings.log_level)
    atexit.register(telemetry.shutdown)
    return create_app(settings)


def main() -> None:
    settings = GatewaySettings()
    options = {
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "loop": "auto",  # uvloop when installed
        "http": "auto",  # httptools when installed
        **server_options(settings),
    }
    if settings.workers > 1:
        uvicorn.run("gateway.__main__:worker_app", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]  # uvicorn's run() takes its settings as keywords typed one by one
        return
    uvicorn.run(worker_app(), **options)  # type: ignore[arg-type]  # uvicorn's run() takes its settings as keywords typed one by one


if __name__ == "__main__":
    main()
