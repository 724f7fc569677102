"""`python -m console`: serve the workbench (CONSOLE_PORT, GATEWAY_URL)."""

from __future__ import annotations

import logging

import uvicorn

from console.app import create_app
from console.config import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    # the console logs refusals and failures only: paths and codes, never tokens, secrets or form values
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
