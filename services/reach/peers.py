"""Calls to the services reach depends on: identity (attributes, pairwise ids), content, benefits.

The gRPC adapter of services/reach/ports.py's PeersPort.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from lattice.benefits.v1 import benefits_pb2, benefits_pb2_grpc
from lattice.content.v1 import content_pb2, content_pb2_grpc
from lattice.identity.v1 import identity_pb2, identity_pb2_grpc

from services.reach.ports import GrantOutcome, Rendered, render_template
from services.reach.profiles import CustomerAttributes
from services.reach.spec import Content
from services.runtime.errors import Unavailable
from services.runtime.grpc_client import reason_of
from services.runtime.proto_mapping import from_proto

logger = logging.getLogger(__name__)

# Answers that mean "try again later" rather than "no".
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
}


class Peers:  # implements PeersPort
    """gRPC clients of identity, content and benefits; `channel(name)` gives a channel to a peer."""

    def __init__(self, channel: Callable[[str], grpc.aio.Channel]) -> None:
        self._channel = channel

    async def customer_attributes(self, customer_id: str) -> CustomerAttributes | None:
        stub = identity_pb2_grpc.CustomerServiceStub(self._channel("identity"))
        try:
            resp = await stub.GetCustomerAttributes(
                identity_pb2.GetCustomerAttributesRequest(customer_id=customer_id)
            )
        except grpc.aio.AioRpcError as exc:
            logger.info("customer attributes not available: %s", exc.code().name)
            return None
        return from_proto(CustomerAttributes, resp.customer, customer_id=customer_id)

    async def pairwise_id(self, *, partner_id: str, customer_id: str) -> str:
        """The customer's pairwise id at a partner, or "" when unbound or consent was withdrawn."""
        stub = identity_pb2_grpc.CustomerServiceStub(self._channel("identity"))
        try:
            resp = await stub.GetPairwiseId(
                identity_pb2.GetPairwiseIdRequest(partner_id=partner_id, customer_id=customer_id)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in RETRYABLE:
                raise Unavailable("identity_unavailable", "identity could not be asked") from exc
            return ""
        return resp.pairwise_id if resp.consent_active else ""

    async def render(
        self, content: Content, *, edition: str, variables: dict[str, str], deep_link: str
    ) -> Rendered:
        """What: an inline template, or the published version of a content item."""
        if not content.content_item_id:
            return render_template(content, variables=variables, deep_link=deep_link)
        stub = content_pb2_grpc.ContentServiceStub(self._channel("content"))
        try:
            item = await stub.GetRenderedItem(
                content_pb2.GetRenderedItemRequest(
                    item_id=content.content_item_id,
                    edition=edition,
                    locale=content.locale,
                    variables={**content.variables, **variables},
                )
            )
        except grpc.aio.AioRpcError as exc:
            raise Unavailable("content_unavailable", f"content answered {exc.code().name}") from exc
        return Rendered(
            title=item.title[:200], body=item.body[:2000], deep_link=(item.deep_link or deep_link)[:500]
        )

    async def grant_benefit(
        self, *, customer_id: str, benefit_id: str, idempotency_key: str, app_id: str, strategy_id: str
    ) -> GrantOutcome:
        """Do: grant a benefit once per strategy trigger (benefits applies the key at most once)."""
        stub = benefits_pb2_grpc.BenefitsServiceStub(self._channel("benefits"))
        try:
            await stub.GrantBenefit(
                benefits_pb2.GrantBenefitRequest(
                    customer_id=customer_id,
                    benefit_id=benefit_id,
                    idempotency_key=idempotency_key,
                    app_id=app_id,
                    channel=f"reach:{strategy_id}",
                    principal=benefits_pb2.Principal(kind="service", scope_id="reach", actor_id="reach"),
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in RETRYABLE:
                return GrantOutcome("pending")
            return GrantOutcome(f"failed:{reason_of(exc) or exc.code().name.lower()}"[:60])
        return GrantOutcome("granted")
