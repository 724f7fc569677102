"""The bus's operations view: durable consumers and their lag, dead letters (dlq.<consumer>.<subject>),
their inspection and their replay to the one consumer that gave up on them."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import descriptor_pool, json_format, message_factory
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry.propagate import inject

from services.runtime.bus import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    MSG_ID_HEADER,
    REPLAY_FOR_HEADER,
    STREAMS,
)
from services.runtime.errors import InvalidInput, NotFound
from services.runtime.personal_data import scrub

logger = logging.getLogger(__name__)
T = TypeVar("T")

DLQ_STREAM = "DLQ"
PLATFORM_STREAM = "PLATFORM"
REPLAYED = "platform.dead_letter.replayed"  # the audit trail of replays: who replayed what, when
TOKEN = r"[A-Za-z0-9_-]{1,100}"
SUBJECT = rf"{TOKEN}(\.{TOKEN}){{0,9}}"
_TOKEN = re.compile(TOKEN)
_SUBJECT = re.compile(SUBJECT)
# event payload modules: imported so that a dead letter's type can be decoded for inspection
_EVENT_MODULES = (
    "lattice.identity.v1.events_pb2",
    "lattice.benefits.v1.events_pb2",
    "lattice.content.v1.events_pb2",
    "lattice.reach.v1.events_pb2",
    "lattice.conversion.v1.events_pb2",
    "lattice.common.v1.app_event_pb2",
    "lattice.common.v1.core_milestone_pb2",
)


@dataclass(frozen=True)
class ConsumerState:
    """One durable consumer: what it still has to process and what it gave up on."""

    stream: str
    consumer: str
    filter_subject: str
    pending: int
    ack_pending: int
    redelivered: int
    last_delivered_at: datetime | None
    dead_letters: int


@dataclass(frozen=True)
class DeadLetter:
    """A message a consumer dead-lettered after its last attempt."""

    sequence: int
    consumer: str
    subject: str
    event_id: str
    event_type: str
    error: str
    dead_lettered_at: datetime | None
    size: int


async def consumers(js: JetStreamContext) -> list[ConsumerState]:
    """Every durable consumer of every stream but the dead-letter one, with its lag and dead letters."""
    dead = await dead_letter_counts(js)
    found: list[ConsumerState] = []
    for stream in STREAMS:
        if stream == DLQ_STREAM:
            continue
        try:
            infos = await js.consumers_info(stream)
        except NotFoundError:
            continue
        for info in infos:
            delivered = info.delivered
            found.append(
                ConsumerState(
                    stream=stream,
                    consumer=info.name,
                    filter_subject=info.config.filter_subject or "",
                    pending=info.num_pending or 0,
                    ack_pending=info.num_ack_pending or 0,
                    redelivered=info.num_redelivered or 0,
                    last_delivered_at=delivered.last_active if delivered else None,
                    dead_letters=dead.get(info.name, 0),
                )
            )
    return sorted(found, key=lambda c: (c.stream, c.consumer))


async def dead_letter_counts(js: JetStreamContext) -> dict[str, int]:
    """Dead letters held per consumer (the second token of dlq.<consumer>.<subject>)."""
    try:
        info = await js.stream_info(DLQ_STREAM, subjects_filter="dlq.>")
    except NotFoundError:
        return {}
    counts: dict[str, int] = {}
    for subject, count in (info.state.subjects or {}).items():
        consumer = subject.split(".", 2)[1]
        counts[consumer] = counts.get(consumer, 0) + count
    return counts


def _filter(consumer: str | None, subject: str | None) -> str:
    if consumer is not None and not _TOKEN.fullmatch(consumer):
        raise InvalidInput("invalid_consumer", "consumer is not a consumer name")
    if subject is not None and not _SUBJECT.fullmatch(subject):
        raise InvalidInput("invalid_subject", "subject is not made of safe tokens")
    return f"dlq.{consumer or '*'}.{subject or '>'}"


async def list_dead_letters(
    js: JetStreamContext,
    *,
    consumer: str | None = None,
    subject: str | None = None,
    after: int = 0,
    limit: int = 50,
) -> tuple[list[DeadLetter], int | None]:
    """Dead letters oldest first, after sequence `after`; the sequence to continue after, if more."""
    wanted = _filter(consumer, subject)
    return await _page(
        js,
        DLQ_STREAM,
        wanted,
        after=after,
        limit=limit,
        read=lambda raw, _: _dead_letter(raw),
    )


async def inspect(js: JetStreamContext, *, sequence: int) -> tuple[DeadLetter, dict[str, Any]]:
    """One dead letter and its payload decoded from its event type (personal numbers scrubbed)."""
    raw = await _get(js, sequence)
    letter = _dead_letter(raw)
    return letter, _decode(letter.event_type, raw.data or b"")


async def replay(js: JetStreamContext, *, sequence: int, operator_id: str) -> DeadLetter:
    """Publish a dead letter again on its subject for its consumer only, then drop it from the DLQ."""
    raw = await _get(js, sequence)
    letter = _dead_letter(raw)
    headers = {
        # one replay per dead letter: JetStream drops a second publish of the same id
        MSG_ID_HEADER: f"replay:{sequence}:{letter.event_id}",
        EVENT_ID_HEADER: letter.event_id,
        EVENT_TYPE_HEADER: letter.event_type,
        REPLAY_FOR_HEADER: letter.consumer,
    }
    inject(headers)
    await js.publish(letter.subject, raw.data or b"", headers=headers)
    record = {**_fields(letter), "operator_id": operator_id}
    await js.publish(REPLAYED, json.dumps(record).encode(), headers={MSG_ID_HEADER: f"replayed:{sequence}"})
    await js.delete_msg(DLQ_STREAM, sequence)
    logger.info(
        "operator %s replayed dead letter %d of consumer %s (%s)",
        operator_id,
        sequence,
        letter.consumer,
        letter.subject,
    )
    return letter


async def replays(
    js: JetStreamContext, *, after: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int | None]:
    """Replays oldest first (who, which dead letter, when), after stream sequence `after`."""

    def record(raw: Any, sequence: int) -> dict[str, Any]:
        return {**json.loads(raw.data or b"{}"), "replayed_at": raw.time, "record": sequence}

    return await _page(js, PLATFORM_STREAM, REPLAYED, after=after, limit=limit, read=record)


async def _page(
    js: JetStreamContext,
    stream: str,
    subject: str,
    *,
    after: int,
    limit: int,
    read: Callable[[Any, int], T],
) -> tuple[list[T], int | None]:
    """Up to `limit` messages of `subject` after stream sequence `after`, oldest first, each read with its
    sequence; the sequence to continue after when there are more (one message past the page is peeked)."""
    found: list[tuple[int, T]] = []
    sequence = after
    while len(found) <= limit:
        try:
            raw = await js.get_msg(stream, seq=sequence + 1, subject=subject, next=True)
        except NotFoundError:
            return [item for _, item in found], None
        sequence = raw.seq or sequence + 1
        found.append((sequence, read(raw, sequence)))
    return [item for _, item in found[:limit]], found[limit - 1][0]


async def _get(js: JetStreamContext, sequence: int):  # type: ignore[no-untyped-def]  # nats-py's JetStream message types are not exported
    if sequence < 1:
        raise NotFound("dead_letter_not_found", "no such dead letter")
    try:
        raw = await js.get_msg(DLQ_STREAM, seq=sequence)
    except NotFoundError:
        raise NotFound("dead_letter_not_found", "no such dead letter") from None
    if not (raw.subject or "").startswith("dlq."):
        raise NotFound("dead_letter_not_found", "no such dead letter")
    return raw


def _dead_letter(raw) -> DeadLetter:  # type: ignore[no-untyped-def]  # nats-py's JetStream message types are not exported
    headers = raw.headers or {}
    _, consumer, subject = (raw.subject or "dlq.?.?").split(".", 2)
    return DeadLetter(
        sequence=int(raw.seq or 0),
        consumer=headers.get("Lattice-Consumer", consumer),
        subject=headers.get("Lattice-Original-Subject", subject),
        event_id=headers.get("Lattice-Original-Event-Id", ""),
        event_type=headers.get(EVENT_TYPE_HEADER, ""),
        error=headers.get("Lattice-Error", ""),
        dead_lettered_at=raw.time,
        size=len(raw.data or b""),
    )


def _fields(letter: DeadLetter) -> dict[str, Any]:
    keys = ("sequence", "consumer", "subject", "event_id", "event_type")
    return {key: getattr(letter, key) for key in keys}


def _decode(event_type: str, data: bytes) -> dict[str, Any]:
    for module in _EVENT_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # a process without some generated module still lists dead letters
            continue
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
        message = message_factory.GetMessageClass(descriptor)()
        message.ParseFromString(data)
        body: dict[str, Any] = {
            "decoded": True,
            "fields": json_format.MessageToDict(message, preserving_proto_field_name=True),
        }
    except Exception:  # unknown type or not that type: shown as bytes, never a failure to inspect
        body = {"decoded": False, "base64": base64.b64encode(data).decode()}
    scrubbed: dict[str, Any] = json.loads(scrub(json.dumps(body, ensure_ascii=False)))
    return scrubbed
