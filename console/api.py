"""OpsApi: the console's only way to the platform, the gateway's operator API with the operator's token."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import Depends, Request
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, StatusCode

from console.session import Session, SignInRequired, signed_in_session

ALLOWED_PREFIXES = ("/v1/ops/", "/v1/.well-known/")


@dataclass
class ApiProblem(Exception):
    """An RFC 9457 answer of the API (or the console's own stand-in when the API cannot be reached)."""

    status: int
    code: str
    detail: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    trace_id: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.code}"

    @property
    def field_errors(self) -> dict[str, str]:
        """Field name (last element of each error's `loc`) -> message, for errors beside form fields."""
        out: dict[str, str] = {}
        for error in self.errors:
            loc = error.get("loc") or []
            name = str(loc[-1]) if loc else ""
            if name and name not in out:
                out[name] = str(error.get("msg", ""))
        return out


_TRACER = trace.get_tracer("console.api")
_ID_SEGMENT = re.compile(r"(?<=/)[^/]*[0-9][^/]*(?=/|$)")


def _route_of(path: str) -> str:
    """The span name's path: segments holding digits (ids, days) become `{id}`, so spans group by route."""
    return _ID_SEGMENT.sub("{id}", path.split("?", 1)[0])


def ops_path(template: str, *segments: object) -> str:
    """`ops_path("/v1/ops/items/{}", item_id)`: each segment percent-encoded, never a path traversal."""
    quoted = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):
            raise ApiProblem(404, "not_found", "no such object")
        quoted.append(quote(text, safe=""))
    return template.format(*quoted)


class OpsApi:
    """The signed-in operator's view of `/v1/ops` (one per request; the HTTP client is shared)."""

    def __init__(self, client: httpx.AsyncClient, session: Session, trace_ids: list[str]) -> None:
        self._client = client
        self._session = session
        self.trace_ids = trace_ids

    @property
    def session(self) -> Session:
        return self._session

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def get_all(
        self, path: str, params: dict[str, Any] | None = None, *, limit: int = 500
    ) -> list[Any]:
        """Every item of a paged list (`{items, next_page_token}`), 100 a call, at most `limit` items: for the
        short lists a page shows whole (an object's audit trail, versions, the app registry)."""
        items: list[Any] = []
        token = ""
        while len(items) < limit:
            page = await self.get(path, {**(params or {}), "page_size": 100, "page_token": token})
            items.extend(page["items"])
            token = page["next_page_token"] or ""
            if not token:
                break
        return items[:limit]

    async def post(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Any:
        return await self.request("POST", path, json=json, idempotency_key=idempotency_key)

    async def put(self, path: str, json: Any = None) -> Any:
        return await self.request("PUT", path, json=json)

    async def patch(self, path: str, json: Any = None) -> Any:
        return await self.request("PATCH", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """The answer's JSON (None for 204); a problem answer raises ApiProblem."""
        if not path.startswith(ALLOWED_PREFIXES) or ".." in path:
            raise ValueError("the console calls only the operator API")
        await self._renew_token()
        headers = {"Authorization": f"Bearer {self._session.token}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        response = await self._send(method, path, params=clean, json=json, headers=headers)
        if response.status_code == 401:
            # the API no longer accepts this sign-in (revoked, expired): sign in again
            raise SignInRequired()
        return _answer(response)

    async def _send(
        self, method: str, path: str, *, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        """One call in a client span whose context travels as `traceparent` (console -> gateway -> ...)."""
        route = _route_of(path)
        with _TRACER.start_as_current_span(
            f"{method} {route}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.path": route, "server.address": "gateway"},
        ) as span:
            inject(headers)
            try:
                response = await self._client.request(method, path, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                span.set_status(StatusCode.ERROR, "timeout")
                raise ApiProblem(504, "gateway_timeout", "the operator API did not answer in time") from exc
            except httpx.HTTPError as exc:
                span.set_status(StatusCode.ERROR, "unreachable")
                raise ApiProblem(503, "gateway_unavailable", "the operator API cannot be reached") from exc
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
        trace_id = response.headers.get("x-trace-id", "")
        if trace_id and trace_id not in self.trace_ids:
            self.trace_ids.append(trace_id)
        return response

    async def _renew_token(self) -> None:
        """No secret is kept to renew the operator token: when it runs out, the operator signs in again."""
        if not self._session.signed_in:
            if self._session.operator_id:
                self._session.notice = "auth.renew"
            raise SignInRequired()


async def sign_in(
    client: httpx.AsyncClient, session: Session, operator_id: str, secret: str, trace_ids: list[str]
) -> None:
    """Exchange an operator's id and secret for the operator token and keep it in the session (the secret
    is used once, here, and kept nowhere)."""
    api = OpsApi(client, session, trace_ids)
    response = await api._send(
        "POST",
        "/v1/ops/token",
        json={"grant_type": "client_credentials", "client_id": operator_id, "client_secret": secret},
        headers={},
    )
    body = _answer(response)
    session.operator_id = operator_id
    session.token = body["access_token"]
    session.token_expires = time.time() + float(body["expires_in"])
    session.role = body.get("role") or ""
    session.branch = body.get("branch") or ""


def _answer(response: httpx.Response) -> Any:
    trace_id = response.headers.get("x-trace-id", "")
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        errors = body.get("errors")
        raise ApiProblem(
            status=response.status_code,
            code=str(body.get("code") or "http_error"),
            detail=str(body.get("detail") or ""),
            errors=errors if isinstance(errors, list) else [],
            trace_id=trace_id,
        )
    if response.status_code == 204 or not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    return response.json() if "json" in content_type else response.text


async def ops_api(request: Request) -> OpsApi:
    """Dependency: the OpsApi of the request's signed-in operator (sign-in page otherwise); async, so
    FastAPI runs it on the event loop, not in a worker thread."""
    session = signed_in_session(request)
    return OpsApi(request.app.state.http, session, request.state.trace_ids)


OpsApiDep = Annotated[OpsApi, Depends(ops_api)]
