"""`python -m console`: serve the workbench (CONSOLE_PORT, GATEWAY_URL)."""

from __future__ import annotations

import uvicorn

from console.app import create_app
from console.config import ConsoleSettings
from services.runtime.telemetry import setup_telemetry


def main() -> None:
    settings = ConsoleSettings()
    # JSON logs with the trace id, and spans, as every other process (services/runtime/telemetry.py);
    # the console logs refusals and failures only: paths and codes, never tokens, secrets or form values
    telemetry = setup_telemetry("console", var_dir=settings.var_dir, log_level=settings.log_level)
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            server_header=False,
        )
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
