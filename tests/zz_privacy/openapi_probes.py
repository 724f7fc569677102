"""Probing every field of the gateway's OpenAPI operations: where the fields are, how a request with
one field replaced is sent with its caller's credentials, and how the answer is judged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from services.runtime.personal_data import find_personal_numbers, fold, scrub
from tests.support.actors import operator_headers, partner_client, sign_in
from tests.zz_privacy.numbers import Generated


@dataclass
class Probe:
    """One request: which field carries which generated number, and what came back."""

    operation: str
    where: str
    pointer: str
    number: Generated
    status: int = 0
    answer: str = ""
    problems: list[str] = field(default_factory=list)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _leaves(document: dict[str, Any], schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple]:
    """Paths (keys and indices) of every string or integer leaf a body of `schema` may hold."""
    schema = _resolve(document, schema)
    if len(path) > 8:
        return
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        for option in options:
            yield from _leaves(document, option, path)
        return
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in (schema.get("properties") or {}).items():
            yield from _leaves(document, sub, (*path, name))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield (*path, {"key": True})
            yield from _leaves(document, extra, (*path, "k"))
    elif kind == "array":
        yield from _leaves(document, schema.get("items") or {}, (*path, 0))
    elif kind in ("string", "integer", "number") or not kind:
        yield path


def place(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`body` with `value` at `path` (containers created as needed); a {"key": True} step sets a key."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(step, dict):
        node = dict(body) if isinstance(body, dict) else {}
        node[str(value)] = "x"
        return node
    if isinstance(step, int):
        node = list(body) if isinstance(body, list) and body else [None]
        node[0] = place(node[0], rest, value)
        return node
    node = dict(body) if isinstance(body, dict) else {}
    node[step] = place(node.get(step), rest, value)
    return node


def pointer_of(path: tuple[Any, ...]) -> str:
    if path and isinstance(path[-1], dict):
        return "/" + "/".join(str(p) for p in path[:-1]) if path[:-1] else "/"
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


class Edge:
    """Sends a probe with the credentials of its route's caller kind and checks the answer."""

    def __init__(self, gateway: httpx.Client) -> None:
        self.gateway = gateway
        self.customer = sign_in(gateway, "mbank", "m-1001")
        self.operator = operator_headers(gateway, "hq-admin")
        self.partner = partner_client(gateway, "ride")

    def send(self, probe: Probe, method: str, path: str, params: dict, headers: dict, body: Any) -> None:
        url = path
        for name, value in params["path"].items():
            url = url.replace("{" + name + "}", quote(str(value), safe=""))
        content = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        sent = {k: str(v).encode() for k, v in headers.items()}
        if body is not None:
            sent["Content-Type"] = b"application/json"
        request = self.gateway.build_request(
            method, url, params=params["query"] or None, content=content or None, headers=sent
        )
        if url.startswith("/v1/partner/"):
            request.headers.update(
                self.partner.signer.headers(method=method, url=str(request.url), body=content)
            )
        elif url.startswith("/v1/ops/"):
            request.headers.update(self.operator)
        elif url.startswith("/v1/apps/"):
            request.headers.update(self.customer.headers)
        response = self.gateway.send(request)
        probe.status = response.status_code
        try:
            answer: Any = response.json()
            probe.answer = json.dumps(answer, ensure_ascii=False)
        except ValueError:
            answer, probe.answer = {}, response.text
        probe.answer += json.dumps(dict(response.headers), ensure_ascii=False)
        answer = answer if isinstance(answer, dict) else {}
        if response.status_code != 422 or answer.get("code") != "personal_data_not_allowed":
            probe.problems.append(f"answered {response.status_code} {answer.get('code')}")
        elif (answer.get("in"), answer.get("pointer")) != (probe.where, probe.pointer):
            probe.problems.append(f"named {answer.get('in')} {answer.get('pointer')}")
        if carries(probe.answer, probe.number):
            probe.problems.append("the answer echoes the number")


def without_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {without_numbers(k): without_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_numbers(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and find_personal_numbers(repr(value)):
        return 1
    return value


def carries(text: str, number: Generated) -> bool:
    bare = "".join(ch for ch in fold(text)[0] if ch not in " .-").upper()
    return number.digits.upper() in bare or bool(find_personal_numbers(text))


def slots(document: dict[str, Any], path: str, method: str) -> Iterator[tuple[str, Any]]:
    item = document["paths"][path][method]
    for parameter in [*document["paths"][path].get("parameters", []), *item.get("parameters", [])]:
        if parameter["in"] in ("path", "query", "header"):
            yield parameter["in"], parameter["name"]
    content = (item.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        for leaf in _leaves(document, content["application/json"].get("schema") or {}):
            yield "body", leaf
