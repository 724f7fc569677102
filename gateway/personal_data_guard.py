"""The edge refuses personal numbers in every inbound field before any route runs.

Scanned: JSON body keys and values at any depth (other bodies as form fields or as text), query
parameter names and values, path parameters, every header but credentials, and every cookie. A hit
is a 422 `personal_data_not_allowed` problem naming the field by JSON pointer, never echoing the
value; the route does not run, so nothing is written, published or logged with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.policies import trusted_headers
from gateway.problems import PROBLEM_JSON, problem_document
from gateway.route_index import route_of
from services.runtime.personal_data import contains_personal_number, scrub

logger = logging.getLogger(__name__)

CODE = "personal_data_not_allowed"
# Every request header is data except credentials (tokens, signatures, Kong's shared secret): random
# material that is checked, never stored or logged. Cookies are scanned one by one.
CREDENTIAL_HEADERS = ("authorization", "x-lattice-signature", trusted_headers.SECRET.lower(), "cookie")
_FORM = b"application/x-www-form-urlencoded"


def _segment(name: object) -> str:
    """One JSON pointer segment (RFC 6901 escaping); a key that is itself personal is not repeated."""
    return scrub(str(name)).replace("~", "~0").replace("/", "~1")


def _is_personal(value: object) -> bool:
    if isinstance(value, str):
        return contains_personal_number(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return contains_personal_number(repr(value))
    return False


def json_hits(document: Any) -> Iterator[str]:
    """JSON pointers of every key or value of `document` that carries a personal number."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if _is_personal(key):
                    yield _pointer(path) or "/"
                    continue
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack.extend(((*path, i), value) for i, value in enumerate(node))
        elif _is_personal(node):
            yield _pointer(path)


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + _segment(step) for step in path)


def _pairs_hits(pairs: list[tuple[str, str]]) -> Iterator[str]:
    for name, value in pairs:
        if _is_personal(name) or _is_personal(value):
            yield "/" + _segment(name)


def body_hits(body: bytes, content_type: bytes) -> Iterator[str]:
    """Pointers into a request body: JSON at any depth, form fields, or the text as a whole."""
    text = body.decode("utf-8", errors="replace")
    if content_type.split(b";")[0].strip().lower() == _FORM:
        yield from _pairs_hits(parse_qsl(text, keep_blank_values=True))
        return
    odd_floats: list[float] = []

    def read_float(literal: str) -> float:
        value = float(literal)
        if _is_personal(value):  # 1.38e10 reads as a number its text does not show
            odd_floats.append(value)
        return value

    try:
        document = json.loads(text, parse_float=read_float)
    except (ValueError, RecursionError):
        if _is_personal(text):
            yield ""
        return
    if "\\" not in text and not odd_floats and not contains_personal_number(text):
        # without escapes every key and value is in the text as written: one pass over it suffices
        return
    yield from json_hits(document)


def request_hits(scope: Scope, body: bytes) -> Iterator[tuple[str, str]]:
    """(where, pointer) of every inbound field of the request that carries a personal number."""
    route = route_of(scope)
    if route is None:
        if _is_personal(scope.get("path", "")):
            yield "path", ""
    else:
        yield from (("path", "/" + _segment(k)) for k, v in route.params.items() if _is_personal(str(v)))
    query = scope.get("query_string", b"")
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        yield from (("query", p) for p in _pairs_hits(pairs))
    headers: dict[str, str] = {}
    cookies = ""
    for raw_name, raw_value in scope.get("headers") or []:
        name = raw_name.decode("latin-1").lower()
        if name == "cookie":
            cookies = raw_value.decode("utf-8", errors="replace")
        elif name not in CREDENTIAL_HEADERS and "signature" not in name:
            headers[name] = raw_value.decode("utf-8", errors="replace")
    yield from (("header", "/" + n) for n, v in headers.items() if _is_personal(v))
    if cookies:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookies)
        except Exception:
            jar = SimpleCookie()
            if _is_personal(cookies):
                yield "cookie", ""
        yield from (("cookie", p) for p in _pairs_hits([(k, m.value) for k, m in jar.items()]))
    if body:
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        yield from (("body", p) for p in body_hits(body, content_type))


class PersonalDataGuard:
    """ASGI middleware: reads the body once, scans every inbound field, then lets the route run."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        more = True
        while more:
            message = await receive()
            messages.append(message)
            more = message["type"] == "http.request" and message.get("more_body", False)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        hit = next(request_hits(scope, body), None)
        if hit is not None:
            await _refuse(scope, send, where=hit[0], pointer=hit[1])
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, send: Send, *, where: str, pointer: str) -> None:
    logger.warning("refused a personal number in %s field %r", where, pointer or "(whole)")
    field = f"{where} field {pointer}" if pointer else f"the {where}"
    detail = f"{field} carries a phone, ID-card or card number; personal numbers are not accepted"
    document = problem_document(scope, 422, CODE, detail, extra={"in": where, "pointer": pointer})
    body = json.dumps(document).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
