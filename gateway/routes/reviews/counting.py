"""How many items of one kind wait for review: each service counts its own queue with one SQL COUNT over
the rows its list reads, with the operator's actor (so branch scope holds), exact at any length."""

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


async def content_items(clients: Clients, op: OperatorPrincipal) -> int:
    actor = to_proto(cpb.Actor, op)
    resp = await clients.content.ListReviewQueue(cpb.ListReviewQueueRequest(actor=actor, count_only=True))
    return resp.total


async def benefits(clients: Clients, op: OperatorPrincipal) -> int:
    resp = await clients.benefits.ListBenefits(
        bpb.ListBenefitsRequest(status="draft", principal=operator_principal(op), count_only=True)
    )
    return resp.total


async def benefit_changes(clients: Clients, op: OperatorPrincipal) -> int:
    resp = await clients.benefits.ListBenefitChanges(
        bpb.ListBenefitChangesRequest(status="pending", principal=operator_principal(op), count_only=True)
    )
    return resp.total


async def strategies(clients: Clients, op: OperatorPrincipal) -> int:
    actor = to_proto(rpb.Actor, op)
    resp = await clients.reach.ListStrategies(
        rpb.ListStrategiesRequest(actor=actor, status="draft", count_only=True)
    )
    return resp.total


async def campaigns(clients: Clients, op: OperatorPrincipal) -> int:
    actor = to_proto(vpb.Actor, op, kind="operator")
    resp = await clients.conversion.ListCampaigns(
        vpb.ListCampaignsRequest(actor=actor, page_size=1, pending_only=True)
    )
    return resp.pending_total  # conversion counts its whole queue beside every page of it


COUNTERS: dict[str, Callable[[Clients, OperatorPrincipal], Awaitable[int]]] = {
    "content_item": content_items,
    "benefit": benefits,
    "benefit_change": benefit_changes,
    "strategy": strategies,
    "campaign": campaigns,
}
