"""ASGI middleware at the edge: request ids, deadline, body size limit, caller-sent identity headers,
rate-limit headers, public-route rate limits and the Idempotency-Key response store/replay."""

from __future__ import annotations

import json
import random
import re
import time

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import access_log, media_types
from gateway.idempotency import CLAIM_KEY, REPLAY_KEY, stored_response
from gateway.policies import trusted_headers
from gateway.problems import PROBLEM_JSON, Problem, problem_document
from gateway.ratelimit import STATE_KEY as RATE_LIMIT_KEY
from services.runtime.deadlines import current_deadline
from services.runtime.personal_data import contains_personal_number

_AUTH_PREFIX = trusted_headers.PREFIX.encode()
_UNLIMITED = ("/healthz", "/readyz")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_CREDENTIALS = (b"authorization", b"x-lattice-signature", trusted_headers.SECRET.encode())
# request headers bounded at the edge (431): enough for any client, Kong's identity headers included
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16 * 1024
_STATUS = "response_status"  # the status answered, for the access log


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
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        try:
            await self._serve(scope, receive, send)
        finally:
            # one access line per request, whatever answered it (a route, the edge, or nobody: 500)
            access_log.record(scope, status=state.get(_STATUS, 500), started=started)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        edge = getattr(getattr(scope.get("app"), "state", None), "edge", None)
        raw_headers = scope.get("headers") or []
        if (edge is None or not edge.settings.trust_kong_headers) and any(
            k.startswith(_AUTH_PREFIX) for k, _ in raw_headers
        ):
            # Only Kong may speak for a caller; without Kong nobody may.
            raw_headers = [(k, v) for k, v in raw_headers if not k.startswith(_AUTH_PREFIX)]
            scope["headers"] = raw_headers
        headers = dict(raw_headers)
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        # a caller's request id is echoed and logged: only a safe token without personal numbers
        usable = _REQUEST_ID.fullmatch(incoming) and not contains_personal_number(incoming)
        # a correlation id, no secret: 128 random bits as uuid4().hex had, without a getrandom call
        request_id = incoming if usable else format(random.getrandbits(128), "032x")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        if _headers_too_large(raw_headers):
            problem = Problem(
                431,
                "headers_too_large",
                f"at most {MAX_HEADERS} request headers of {MAX_HEADER_BYTES} bytes in all",
            )
            await _send_problem(scope, send, request_id, problem)
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(scope, send, request_id)
            return
        if declared is None and scope.get("method") not in ("GET", "HEAD"):
            # a body without a length (chunked) is counted as it streams, before the app sees any of it
            buffered = await self._buffer(receive)
            if buffered is None:
                await self._too_large(scope, send, request_id)
                return
            receive = _replay(buffered, receive)
        if edge is not None and _uncredentialed(headers) and not scope["path"].startswith(_UNLIMITED):
            try:
                # the server already replaced the peer with X-Forwarded-For's client when the peer is
                # one of the trusted proxies (FORWARDED_ALLOW_IPS, see gateway.edge.server_options)
                client = (scope.get("client") or ("unknown", 0))[0]
                # link clicks come from many people behind one carrier NAT: their own, larger budget
                # (conversion's click-flood guard decides what is attributed)
                group = "click" if scope["path"].startswith("/r/") else "public"
                await edge.rate_limits.admit(state, group=group, consumer=f"ip:{client}")
            except Problem as problem:
                await _send_problem(scope, send, request_id, problem)
                return

        unsupported = media_types.refuses(scope, headers)
        if unsupported is not None:
            await _send_problem(scope, send, request_id, Problem(415, "unsupported_media_type", unsupported))
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

        responder = _Responder(send=send, state=state, request_id=request_id, edge=edge)
        token = current_deadline.set(time.monotonic() + self.timeout_s)
        try:
            await self.app(scope, limited_receive, responder.send)
        except BodyTooLarge:
            await responder.abandon()
            await self._too_large(scope, send, request_id)
        except BaseException:
            await responder.abandon()
            raise
        finally:
            current_deadline.reset(token)

    async def _buffer(self, receive: Receive) -> list[Message] | None:
        """The whole body's messages, or None as soon as it passes the limit."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > self.max_body:
                return None
            if not message.get("more_body", False):
                return messages

    async def _too_large(self, scope: Scope, send: Send, request_id: str) -> None:
        problem = Problem(413, "body_too_large", f"request bodies are limited to {self.max_body} bytes")
        await _send_problem(scope, send, request_id, problem)


def _uncredentialed(headers: dict[bytes, bytes]) -> bool:
    """Requests without credentials (sign-in, redirects, documents) count against their address."""
    return not any(name in headers for name in _CREDENTIALS)


def _headers_too_large(raw: list[tuple[bytes, bytes]]) -> bool:
    return len(raw) > MAX_HEADERS or sum(len(k) + len(v) for k, v in raw) > MAX_HEADER_BYTES


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered body first, then whatever the server sends (disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


class _Responder:
    """Adds the request id and rate-limit headers; stores or replays idempotent responses."""

    def __init__(self, *, send: Send, state: dict, request_id: str, edge: object) -> None:
        self._send = send
        self._state = state
        self._request_id = request_id.encode()
        self._edge = edge
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._swallow = False

    async def send(self, message: Message) -> None:
        if self._swallow:
            return
        if message["type"] == "http.response.start":
            self._state[_STATUS] = message["status"]
            replay = self._state.get(REPLAY_KEY)
            if replay is not None:
                self._swallow = True
                status, headers, body = stored_response(replay)
                start = {"type": "http.response.start", "status": status, "headers": headers}
                self._state[_STATUS] = status
                self._decorate(start)
                await self._send(start)
                await self._send({"type": "http.response.body", "body": body})
                return
            self._decorate(message)
            if self._state.get(CLAIM_KEY) is not None:
                self._start = message
                return
        elif message["type"] == "http.response.body" and self._start is not None:
            self._chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._finish()
            return
        await self._send(message)

    def _decorate(self, message: Message) -> None:
        headers = message.setdefault("headers", [])
        headers.append((b"x-request-id", self._request_id))
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            # lets ops (and `make demo`) find the request's trace
            headers.append((b"x-trace-id", format(span.trace_id, "032x").encode()))
        limits = self._state.get(RATE_LIMIT_KEY)
        if limits:
            present = {k.lower() for k, _ in headers}
            for name, value in limits.items():
                key = name.lower().encode()
                if key not in present:
                    headers.append((key, value.encode()))
                    present.add(key)

    async def _finish(self) -> None:
        claim = self._state.pop(CLAIM_KEY)
        start, body = self._start, b"".join(self._chunks)
        assert start is not None
        await self._edge.idempotency.finish(  # type: ignore[attr-defined]  # the edge's idempotency store is attached at startup
            claim, status=start["status"], headers=start.get("headers", []), body=body
        )
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})

    async def abandon(self) -> None:
        """The request failed before a response was stored: free its Idempotency-Key."""
        claim = self._state.pop(CLAIM_KEY, None)
        if claim is not None and self._edge is not None:
            await self._edge.idempotency.release(claim)  # type: ignore[attr-defined]  # the edge's idempotency store is attached at startup


async def _send_problem(scope: Scope, send: Send, request_id: str, problem: Problem) -> None:
    document = problem_document(scope, problem.status, problem.code, problem.detail, request_id=request_id)
    body = json.dumps(document).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *[(k.lower().encode(), v.encode()) for k, v in problem.headers.items()],
        *([(b"x-trace-id", document["trace_id"].encode())] if "trace_id" in document else []),
    ]
    scope.setdefault("state", {})[_STATUS] = problem.status
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
