"""A partner's postback receiver: an HTTP server on 127.0.0.1 that verifies Standard Webhooks signatures.

Used by `make demo` and the end-to-end tests to play the partner's side of conversion postbacks.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Postback:
    webhook_id: str
    body: dict[str, Any]
    signature_valid: bool
    received_at: float = 0.0  # time.perf_counter() when the receiver had it (the bench's clock)


@dataclass
class PostbackReceiver:
    port: int = 0
    secret: str = ""
    received: list[Postback] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many requests first (to exercise retries)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                received_at = time.perf_counter()
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(raw, headers)
                    valid = True
                except WebhookVerificationError:
                    valid = False
                receiver.received.append(
                    Postback(headers.get("webhook-id", ""), json.loads(raw or b"{}"), valid, received_at)
                )
                self.send_response(204 if valid else 401)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/postbacks"

    def start(self) -> PostbackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
