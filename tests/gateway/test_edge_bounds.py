"""Bounds of the edge over real sockets: the client address comes from trusted proxies only, chunked
bodies over the limit are 413, and request headers are bounded (431)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import httpx

from tests.gateway.conftest import running_gateway

PUBLIC_LIMIT = 3


async def _anonymous_statuses(url: str, forwarded_for: list[str]) -> list[int]:
    """Uncredentialed requests, each claiming to be forwarded for the given address."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return [
            (await client.get("/v1/no-such-document", headers={"X-Forwarded-For": address})).status_code
            for address in forwarded_for
        ]


def _addresses(n: int) -> list[str]:
    return [f"198.51.100.{i}" for i in range(1, n + 1)]


async def test_rotating_x_forwarded_for_from_an_untrusted_peer_stays_in_its_bucket(
    tmp_path: Path, nats_url: str
) -> None:
    async with running_gateway(tmp_path, nats_url, rate_limits={"public": PUBLIC_LIMIT}) as gw:
        statuses = await _anonymous_statuses(gw.url, _addresses(PUBLIC_LIMIT + 2))
    assert statuses[:PUBLIC_LIMIT] == [404] * PUBLIC_LIMIT
    assert statuses[PUBLIC_LIMIT:] == [429, 429]


async def test_x_forwarded_for_from_a_trusted_proxy_chooses_the_bucket(tmp_path: Path, nats_url: str) -> None:
    overrides = {"rate_limits": {"public": PUBLIC_LIMIT}, "forwarded_allow_ips": "127.0.0.1"}
    async with running_gateway(tmp_path, nats_url, **overrides) as gw:
        # each forwarded client has its own bucket ...
        assert await _anonymous_statuses(gw.url, _addresses(PUBLIC_LIMIT + 2)) == [404] * (PUBLIC_LIMIT + 2)
        # ... and one client forwarded many times spends its own; the proxy appends the peer it saw
        repeated = await _anonymous_statuses(gw.url, ["203.0.113.9, 198.51.100.77"] * (PUBLIC_LIMIT + 1))
        assert repeated == [404] * PUBLIC_LIMIT + [429]
        assert await _anonymous_statuses(gw.url, ["203.0.113.10, 198.51.100.78"]) == [404]


def _raw(url: str, request: bytes) -> bytes:
    """Send raw bytes to the gateway; the status line and headers it answers (or b'' if it hung up)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _chunked(path: str, size: int, *, chunk: int = 64 * 1024) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body, left = b"", size
    while left > 0:
        n = min(chunk, left)
        body += f"{n:x}\r\n".encode() + b"a" * n + b"\r\n"
        left -= n
    return head + body + b"0\r\n\r\n"


async def test_a_chunked_body_over_the_limit_is_413_on_every_kind_of_route(
    tmp_path: Path, nats_url: str
) -> None:
    limit = 64 * 1024
    async with running_gateway(tmp_path, nats_url, max_body_bytes=limit) as gw:
        token = gw.issuer.token(aud="life", sub="c-1")
        for path, extra in (
            ("/v1/apps/life/token", b""),  # public
            ("/v1/apps/life/probe/me", f"Authorization: Bearer {token}\r\n".encode()),
            ("/v1/partner/probe/transfers", b""),
            ("/v1/ops/token", b""),
        ):
            request = _chunked(path, limit + 1).replace(
                b"Connection: close\r\n", b"Connection: close\r\n" + extra
            )
            answer = await _in_thread(_raw, gw.url, request)
            assert _status(answer) == 413, (path, answer[:200])
        # under the limit a chunked body still reaches the route
        under = _chunked("/v1/ops/token", 20)
        assert _status(await _in_thread(_raw, gw.url, under)) == 422


async def test_request_headers_are_bounded_431(tmp_path: Path, nats_url: str) -> None:
    async with running_gateway(tmp_path, nats_url) as gw:
        many = b"".join(f"X-Filler-{i}: {uuid.uuid4().hex}\r\n".encode() for i in range(100))
        big = b"X-Big: " + b"b" * (20 * 1024) + b"\r\n"
        for extra in (many, big):
            request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n" + extra + b"Connection: close\r\n\r\n"
            answer = await _in_thread(_raw, gw.url, request)
            assert _status(answer) == 431, answer[:200]
        ordinary = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n"
        assert _status(await _in_thread(_raw, gw.url, ordinary)) == 200


async def _in_thread(fn, *args):
    return await asyncio.to_thread(fn, *args)
