"""What reach's core asks of its peers (identity, content, benefits), as a port: no transport here.

The gRPC adapter is services/reach/peers.py (`Peers`); the engine depends only on `PeersPort`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from string import Template
from typing import Protocol

from services.reach.profiles import CustomerAttributes
from services.reach.spec import Content


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    deep_link: str


@dataclass(frozen=True)
class GrantOutcome:
    """`granted`, `failed:<reason>` (final) or `pending` (retry later)."""

    state: str


class PeersPort(Protocol):
    """The peers' answers the engine needs; Unavailable when a peer cannot answer for now."""

    async def customer_attributes(self, customer_id: str) -> CustomerAttributes | None: ...

    async def pairwise_id(self, *, partner_id: str, customer_id: str) -> str: ...

    async def render(
        self, content: Content, *, edition: str, variables: dict[str, str], deep_link: str
    ) -> Rendered: ...

    async def grant_benefit(
        self, *, customer_id: str, benefit_id: str, idempotency_key: str, app_id: str, strategy_id: str
    ) -> GrantOutcome: ...


def grant_idempotency_key(*, strategy_id: str, trigger_key: str) -> str:
    """The same trigger of the same strategy always grants under the same key (at most once)."""
    return "reach:" + hashlib.sha256(f"{strategy_id}:{trigger_key}".encode()).hexdigest()[:40]


def render_template(content: Content, *, variables: dict[str, str], deep_link: str) -> Rendered:
    """Fill `${name}` placeholders from the strategy's variables and the event's properties."""
    values = {**content.variables, **variables}

    def fill(text: str) -> str:
        return Template(text).safe_substitute(values)

    return Rendered(
        title=fill(content.title)[:200], body=fill(content.body)[:2000], deep_link=fill(deep_link)[:500]
    )
