"""A partner's postback receiver on 127.0.0.1: answers each path from a script of statuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn

from tools.stack import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    port: int
    scripts: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *replies: int | tuple[int, dict[str, str]]) -> None:
        """Reply to requests on `path` with these statuses in turn, then 200."""
        self.scripts[path] = [r if isinstance(r, tuple) else (r, {}) for r in replies]

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(scope["path"], headers, body.decode()))
        script = self.scripts.get(scope["path"], [])
        status, extra = script.pop(0) if script else (200, {})
        out = [(k.encode(), v.encode()) for k, v in extra.items()] + [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver(port=free_port())
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
