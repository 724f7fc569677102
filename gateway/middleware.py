"""ASGI middleware at the edge: request ids, the request deadline and the body size limit."""

from __future__ import annotations

import json
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.problems import PROBLEM_BASE, PROBLEM_JSON
from services.runtime.grpc_server import current_deadline


class BodyTooLarge(Exception):
    pass


class EdgeMiddleware:
    """Gives each request an id and a deadline (passed on to gRPC calls) and caps its body size."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(scope, send, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        token = current_deadline.set(time.monotonic() + self.timeout_s)
        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            await self._too_large(scope, send, request_id)
        finally:
            current_deadline.reset(token)

    async def _too_large(self, scope: Scope, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "body-too-large",
                "title": "Content too large",
                "status": 413,
                "code": "body_too_large",
                "detail": f"request bodies are limited to {self.max_body} bytes",
                "instance": scope.get("path", ""),
                "request_id": request_id,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
