"""Reach routes for sibling apps: behaviour events, the inbox and contact preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from lattice.common.v1 import app_event_pb2
from lattice.reach.v1 import reach_pb2 as pb

from gateway.auth import CustomerDep
from gateway.clients import ClientsDep
from gateway.problems import Problem
from gateway.routes.reach.public import (
    ContactPreferencePublic,
    ContactPreferences,
    InboxMessagePublic,
    InboxPage,
)
from gateway.routes.reach.schemas import (
    AppId,
    ContactPreferenceUpdate,
    EventBatch,
    EventsAccepted,
    check_privacy,
)
from services.runtime.proto_mapping import from_proto, from_protos, to_proto

router = APIRouter(prefix="/v1", tags=["reach"])


@router.post(
    "/apps/{app_id}/events",
    operation_id="send_behaviour_events",
    summary="Send the customer's behaviour events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventsAccepted,
)
async def send_events(
    app_id: AppId, body: EventBatch, customer: CustomerDep, request: Request
) -> EventsAccepted:
    """Behaviour events of the signed-in customer, published on JetStream `app.event.<type>`."""
    now = datetime.now(UTC)
    unique = {e.event_id: e for e in body.events}
    for event in unique.values():
        check_privacy(event)
        at = event.occurred_at or now
        if not now - timedelta(days=7) <= at <= now + timedelta(minutes=5):
            raise Problem(422, "invalid_occurred_at", f"event {event.event_id} is too old or in the future")
    bus = request.app.state.bus
    for event in unique.values():
        message = to_proto(
            app_event_pb2.AppEvent,
            event,
            customer_id=customer.customer_id,
            app_id=app_id,
            occurred_at=event.occurred_at or now,
        )
        try:
            await bus.publish(
                f"app.event.{event.type}",
                message.SerializeToString(),
                event_id=event.event_id,
                event_type=message.DESCRIPTOR.full_name,
            )
        except Exception as exc:
            # Events already published are deduplicated by id when the app sends the batch again.
            raise Problem(
                503, "events_unavailable", "events could not be stored; retry", headers={"Retry-After": "1"}
            ) from exc
    return EventsAccepted(accepted=len(unique))


@router.get("/apps/{app_id}/inbox", operation_id="list_my_inbox", summary="List the customer's inbox")
async def list_inbox(
    app_id: AppId,
    customer: CustomerDep,
    clients: ClientsDep,
    unread_only: bool = False,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str, Query(max_length=36)] = "",
) -> InboxPage:
    """The signed-in customer's inbox in this app, newest first."""
    resp = await clients.reach.ListInboxMessages(
        pb.ListInboxMessagesRequest(
            customer_id=customer.customer_id,
            app_id=app_id,
            unread_only=unread_only,
            page_size=page_size,
            page_token=page_token,
        )
    )
    # the contract's `messages` are the page's items
    return from_proto(InboxPage, resp, items=from_protos(InboxMessagePublic, resp.messages))


@router.post(
    "/apps/{app_id}/inbox/{message_id}/read",
    operation_id="mark_inbox_message_read",
    summary="Mark an inbox message read",
)
async def read_inbox_message(
    app_id: AppId,
    message_id: Annotated[str, Path(max_length=36, pattern=r"^[A-Za-z0-9_-]+$")],
    customer: CustomerDep,
    clients: ClientsDep,
) -> InboxMessagePublic:
    """Mark one of the customer's own messages read (anyone else's answers 404)."""
    resp = await clients.reach.MarkInboxMessageRead(
        pb.MarkInboxMessageReadRequest(customer_id=customer.customer_id, app_id=app_id, message_id=message_id)
    )
    return from_proto(InboxMessagePublic, resp.message)


@router.get(
    "/apps/{app_id}/contact-preferences",
    operation_id="list_my_contact_preferences",
    summary="List the customer's contact preferences",
)
async def list_preferences(app_id: AppId, customer: CustomerDep, clients: ClientsDep) -> ContactPreferences:
    """The customer's marketing opt-ins and opt-outs per channel and purpose."""
    resp = await clients.reach.ListContactPreferences(
        pb.ListContactPreferencesRequest(customer_id=customer.customer_id)
    )
    return ContactPreferences(items=from_protos(ContactPreferencePublic, resp.preferences))


@router.put(
    "/apps/{app_id}/contact-preferences",
    operation_id="set_my_contact_preference",
    summary="Set a contact preference",
)
async def set_preference(
    app_id: AppId, body: ContactPreferenceUpdate, customer: CustomerDep, clients: ClientsDep
) -> ContactPreferences:
    """Opt in or out of marketing on one channel, for one purpose or for all."""
    resp = await clients.reach.SetContactPreference(
        pb.SetContactPreferenceRequest(
            customer_id=customer.customer_id,
            app_id=app_id,
            preference=to_proto(pb.ContactPreference, body),
        )
    )
    return ContactPreferences(items=from_protos(ContactPreferencePublic, resp.preferences))
