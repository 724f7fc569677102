"""python -m gateway"""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.edge import server_options
from services.runtime.service import instrument_grpc
from services.runtime.telemetry import setup_telemetry


def main() -> None:
    settings = GatewaySettings()
    telemetry = setup_telemetry("gateway", var_dir=settings.var_dir, log_level=settings.log_level)
    instrument_grpc()
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            **server_options(settings),  # type: ignore[arg-type]
        )
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
