"""How many items of one kind wait for review: the services' lists only, without each item's details."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lattice.benefits.v1 import benefits_pb2 as bpb
from lattice.content.v1 import content_pb2 as cpb
from lattice.conversion.v1 import conversion_pb2 as vpb
from lattice.reach.v1 import reach_pb2 as rpb

from gateway.auth import OperatorPrincipal
from gateway.clients import Clients
from gateway.routes.benefits.calls import operator_principal
from services.runtime.proto_mapping import to_proto

PAGE = 100
Counted = tuple[int, str]


async def content_items(clients: Clients, op: OperatorPrincipal, token: str) -> Counted:
    actor = to_proto(cpb.Actor, op)
    resp = await clients.content.ListItems(
        cpb.ListItemsRequest(actor=actor, page_size=PAGE, page_token=token, stage="in_review")
    )
    return len(resp.items), resp.next_page_token


async def benefits(clients: Clients, op: OperatorPrincipal, token: str) -> Counted:
    resp = await clients.benefits.ListBenefits(
        bpb.ListBenefitsRequest(
            status="draft", principal=operator_principal(op), page_size=PAGE, page_token=token
        )
    )
    return len(resp.benefits), resp.next_page_token


async def benefit_changes(clients: Clients, op: OperatorPrincipal, token: str) -> Counted:
    resp = await clients.benefits.ListBenefitChanges(
        bpb.ListBenefitChangesRequest(
            status="pending", principal=operator_principal(op), page_size=PAGE, page_token=token
        )
    )
    return len(resp.changes), resp.next_page_token


async def strategies(clients: Clients, op: OperatorPrincipal, token: str) -> Counted:
    actor = to_proto(rpb.Actor, op)
    resp = await clients.reach.ListStrategies(
        rpb.ListStrategiesRequest(actor=actor, status="draft", page_size=PAGE, page_token=token)
    )
    return len(resp.strategies), resp.next_page_token


async def campaigns(clients: Clients, op: OperatorPrincipal, token: str) -> Counted:
    actor = to_proto(vpb.Actor, op, kind="operator")
    resp = await clients.conversion.ListCampaigns(
        vpb.ListCampaignsRequest(actor=actor, page_size=1, pending_only=True)
    )
    return resp.pending_total, ""  # conversion counts its whole queue in one indexed read


COUNTERS: dict[str, Callable[[Clients, OperatorPrincipal, str], Awaitable[Counted]]] = {
    "content_item": content_items,
    "benefit": benefits,
    "benefit_change": benefit_changes,
    "strategy": strategies,
    "campaign": campaigns,
}
