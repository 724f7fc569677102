"""Platform health for head-office admins: consumers and their lag, dead letters, their inspection and
replay. The gateway reads JetStream itself: no service owns the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from gateway.auth import OperatorPrincipal, require_role
from gateway.problems import Problem
from services.runtime import dead_letters
from services.runtime.errors import DomainError, InvalidInput

if TYPE_CHECKING:  # the bus is the app's (request.app.state.bus); the gateway only names its type
    from nats.js import JetStreamContext

router = APIRouter(prefix="/v1/ops/platform", tags=["platform"])
ADMIN = require_role("admin")
T = TypeVar("T")
Sequence = Annotated[int, Path(ge=1, le=2**63 - 1, description="the dead letter's DLQ stream sequence")]


class ConsumerPublic(BaseModel):
    stream: str
    consumer: str
    filter_subject: str
    pending: int = Field(description="messages not yet delivered (the lag)")
    ack_pending: int = Field(description="delivered, not yet acknowledged")
    redelivered: int
    last_delivered_at: datetime | None
    dead_letters: int = Field(description="dead letters of this consumer still in the DLQ")


class ConsumerList(BaseModel):
    items: list[ConsumerPublic]


class DeadLetterPublic(BaseModel):
    sequence: int
    consumer: str
    subject: str = Field(description="the subject the message was published on")
    event_id: str
    event_type: str
    error: str = Field(description="the exception type of the last attempt")
    dead_lettered_at: datetime | None
    size: int


class DeadLetterPage(BaseModel):
    items: list[DeadLetterPublic]
    next_page_token: str | None


class DeadLetterDetail(DeadLetterPublic):
    payload: dict[str, Any] = Field(
        description="`decoded` and `fields` (the event decoded by its type) or `base64`; "
        "personal numbers scrubbed"
    )


class ReplayPublic(BaseModel):
    replayed: DeadLetterPublic
    status: str = "replayed"


def _head_office_admin(operator: OperatorPrincipal) -> None:
    # dead letters carry every branch's events: only head office sees them
    if not operator.head_office:
        raise Problem(403, "head_office_only", "platform health is run by head office")


def _js(request: Request):
    return request.app.state.bus.js


async def _on_the_bus(
    request: Request, operator: OperatorPrincipal, action: Callable[[JetStreamContext], Awaitable[T]]
) -> T:
    """One dead-letter action for a head-office admin; its refusals as problems (422 invalid, else 404)."""
    _head_office_admin(operator)
    try:
        return await action(_js(request))
    except DomainError as error:
        status = 422 if isinstance(error, InvalidInput) else 404
        raise Problem(status, error.reason, error.detail) from None


_GONE: dict[int | str, dict[str, Any]] = {404: {"description": "No such dead letter or consumer (any more)"}}


@router.get(
    "/consumers",
    operation_id="list_event_consumers",
    response_model=ConsumerList,
    summary="Durable consumers, their lag and dead letters",
)
async def list_consumers(request: Request, operator: OperatorPrincipal = ADMIN) -> ConsumerList:
    """Every durable JetStream consumer with its pending, redelivered and dead-lettered counts (head-office
    admins).
    """
    _head_office_admin(operator)
    found = await dead_letters.consumers(_js(request))
    return ConsumerList(items=[ConsumerPublic(**vars(c)) for c in found])


@router.get(
    "/dead-letters",
    operation_id="list_dead_letters",
    responses=_GONE,
    response_model=DeadLetterPage,
    summary="Dead-lettered messages, oldest first",
)
async def list_dead_letters(
    request: Request,
    operator: OperatorPrincipal = ADMIN,
    consumer: Annotated[str | None, Query(pattern=f"^{dead_letters.TOKEN}$")] = None,
    subject: Annotated[str | None, Query(pattern=f"^{dead_letters.SUBJECT}$", max_length=500)] = None,
    page_token: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadLetterPage:
    """Messages that exhausted their deliveries, oldest first, filtered by consumer or subject (head-office
    admins).
    """
    items, after = await _on_the_bus(
        request,
        operator,
        lambda js: dead_letters.list_dead_letters(
            js, consumer=consumer, subject=subject, after=int(page_token or 0), limit=limit
        ),
    )
    return DeadLetterPage(
        items=[DeadLetterPublic(**vars(d)) for d in items],
        next_page_token=None if after is None else str(after),
    )


@router.get(
    "/dead-letters/{sequence}",
    operation_id="get_dead_letter",
    responses=_GONE,
    response_model=DeadLetterDetail,
    summary="Inspect one dead letter",
)
async def inspect_dead_letter(
    request: Request, sequence: Sequence, operator: OperatorPrincipal = ADMIN
) -> DeadLetterDetail:
    """One dead letter with its headers and payload as the consumer saw it (head-office admins);
    404 when gone.
    """
    letter, payload = await _on_the_bus(
        request, operator, lambda js: dead_letters.inspect(js, sequence=sequence)
    )
    return DeadLetterDetail(**vars(letter), payload=payload)


@router.post(
    "/dead-letters/{sequence}/replay",
    operation_id="replay_dead_letter",
    responses=_GONE,
    response_model=ReplayPublic,
    summary="Publish a dead letter again, for the consumer that dead-lettered it only",
    description="Other consumers of the subject acknowledge the replay unseen; the consumer keeps its "
    "exactly-once record by the event id. The message leaves the DLQ; if it fails again it returns there.",
)
async def replay_dead_letter(
    request: Request, sequence: Sequence, operator: OperatorPrincipal = ADMIN
) -> ReplayPublic:
    """Deliver the dead letter to its consumer again; the replay is recorded with the operator's id."""
    letter = await _on_the_bus(
        request,
        operator,
        lambda js: dead_letters.replay(js, sequence=sequence, operator_id=operator.operator_id),
    )
    return ReplayPublic(replayed=DeadLetterPublic(**vars(letter)))


class ReplayRecordPublic(BaseModel):
    record: int = Field(description="the record's sequence (page tokens continue after it)")
    sequence: int = Field(description="the dead letter replayed")
    consumer: str
    subject: str
    event_id: str
    event_type: str
    operator_id: str = Field(description="the head-office admin who replayed it")
    replayed_at: datetime | None


class ReplayPage(BaseModel):
    items: list[ReplayRecordPublic]
    next_page_token: str | None


@router.get(
    "/replays",
    operation_id="list_dead_letter_replays",
    response_model=ReplayPage,
    summary="Who replayed which dead letter, when (oldest first)",
)
async def list_replays(
    request: Request,
    operator: OperatorPrincipal = ADMIN,
    page_token: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReplayPage:
    """Who replayed which dead letter, and when, oldest first."""
    _head_office_admin(operator)
    items, after = await dead_letters.replays(_js(request), after=int(page_token or 0), limit=limit)
    return ReplayPage(
        items=[ReplayRecordPublic(**item) for item in items],
        next_page_token=None if after is None else str(after),
    )
