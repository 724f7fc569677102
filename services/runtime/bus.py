"""The NATS JetStream bus: streams, traced publishing, durable consumers with a dead-letter subject."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TypeVar

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck, StorageType, StreamConfig
from nats.js.errors import BadRequestError, ServiceUnavailableError
from opentelemetry import metrics, trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from services.runtime.outbox import Outgoing
from services.runtime.personal_data import contains_personal_number
from services.runtime.pull_consumer import PullConsumer
from services.runtime.telemetry import ATTR_DELIVERY_COUNT, ATTR_EVENT_ID

logger = logging.getLogger(__name__)
event_log = logging.getLogger("lattice.events")  # the consumer's access log: one line per event
tracer = trace.get_tracer("lattice.bus")
meter = metrics.get_meter("lattice.bus")

# Every stream Lattice uses; declared idempotently by every process that connects.
STREAMS: dict[str, list[str]] = {
    "IDENTITY": ["identity.>"],
    "BENEFITS": ["benefits.>"],
    "CONTENT": ["content.>"],
    "REACH": ["reach.>"],
    "CONVERSION": ["conversion.>"],
    "APP_EVENTS": ["app.event.>"],
    "CORE": ["core.>"],  # the core banking feed (milestones that pay partners)
    "DLQ": ["dlq.>"],
    "PLATFORM": ["platform.>"],  # the platform's own records (dead-letter replays, who and when)
}
DUPLICATE_WINDOW_S = 600
EVENT_TYPE_HEADER = "Lattice-Event-Type"
MSG_ID_HEADER = "Nats-Msg-Id"
# a replayed dead letter keeps its event id (consumers stay idempotent) and names the one consumer
# it is for; the others ack it unseen (services/runtime/dead_letters.py)
EVENT_ID_HEADER = "Lattice-Event-Id"
REPLAY_FOR_HEADER = "Lattice-Replay-For"
_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}")


# how long a process waits at start for JetStream to answer its setup (streams, consumers): a cluster
# still electing its leaders answers 503 or not at all for a few seconds
SETUP_PATIENCE_S = 60.0
_NOT_YET = (NatsTimeoutError, NoRespondersError, ServiceUnavailableError)
# A consumer's pull asks for up to FETCH_BATCH messages and waits at most FETCH_WAIT_S for the first:
# JetStream answers as soon as one is there with what is there (no_wait with expires, nats-py 2.16 and
# nats-server 2.15), so a message is handled within a round trip of its publication, not at the end
# of the wait (tests/platform/test_bus_prompt.py); the wait only bounds how often an idle consumer asks.
FETCH_BATCH = 16
FETCH_WAIT_S = 1.0
T = TypeVar("T")


async def when_jetstream_answers(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run a JetStream setup call, again with backoff while JetStream is not yet available."""
    deadline = time.monotonic() + SETUP_PATIENCE_S
    pause = 0.25
    while True:
        try:
            return await call()
        except _NOT_YET:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("JetStream did not answer %s yet; again in %.2f s", what, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)


class UnsafeSubject(ValueError):
    """A subject or event id that is not a safe token, or carries a personal number."""


@lru_cache(maxsize=1024)
def _subject_problem(subject: str) -> str:
    """Why a subject is unsafe ('' when it is safe); a process publishes to few subjects, each
    checked once."""
    if not all(_SUBJECT_TOKEN.fullmatch(token) for token in subject.split(".")):
        return "the subject is not made of safe tokens"
    if contains_personal_number(subject):
        return "the subject or event id carries a personal number"
    return ""


def check_subject(subject: str, *, event_id: str = "") -> None:
    """Subjects are dot-separated safe tokens; neither they nor event ids carry personal numbers."""
    problem = _subject_problem(subject)
    if problem:
        raise UnsafeSubject(problem)
    if contains_personal_number(event_id):
        raise UnsafeSubject("the subject or event id carries a personal number")


@dataclass
class Delivery:
    """One message handed to a consumer handler."""

    subject: str
    data: bytes
    event_id: str
    event_type: str
    num_delivered: int
    headers: dict[str, str] = field(default_factory=dict)
    # the consumer span of this delivery when it is handled within a batch (the batch handler makes
    # it current around this delivery's work, so what the work logs and traces belongs to its trace)
    span: Span | None = field(default=None, repr=False, compare=False)


Handler = Callable[[Delivery], Awaitable[None]]
# A batch handler applies a fetched batch at once and returns one outcome per delivery, in order:
# None (applied; acked) or the exception that delivery raised (retried or dead-lettered alone). When
# it raises, nothing of the batch counts as applied: each message goes through the per-message handler.
BatchHandler = Callable[[Sequence[Delivery]], Awaitable[Sequence[BaseException | None]]]


class Bus:
    """A connection to NATS with JetStream; publishing and consuming carry W3C trace context."""

    def __init__(self, nc: nats.NATS, name: str, *, stream_replicas: int = 1) -> None:
        self.nc = nc
        self.stream_replicas = stream_replicas
        self.js = nc.jetstream(timeout=5)
        self.name = name
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list = []  # type: ignore[type-arg]  # nats-py does not export its subscription type
        self.lag: dict[str, int] = {}
        self.stopping = asyncio.Event()
        self._dead_letters = meter.create_counter(
            "lattice.messaging.dead_letters", description="Messages dead-lettered, per consumer"
        )
        self._process_duration = meter.create_histogram(
            "messaging.process.duration", unit="s", description="Consumer handler duration"
        )
        meter.create_observable_gauge(
            "messaging.consumer.lag",
            callbacks=[self._observe_lag],
            description="Messages pending for each durable consumer",
        )

    @classmethod
    async def connect(cls, url: str, *, name: str, stream_replicas: int = 1) -> Bus:
        """Connect (NATS_URL may list several cluster nodes, comma-separated) and declare the streams."""
        servers = [u.strip() for u in url.split(",") if u.strip()]
        nc = await nats.connect(
            servers=servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5
        )
        bus = cls(nc, name, stream_replicas=stream_replicas)
        await bus.ensure_streams()
        return bus

    async def ensure_streams(self) -> None:
        for name, subjects in STREAMS.items():
            config = StreamConfig(
                name=name,
                subjects=subjects,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.stream_replicas,
            )
            await when_jetstream_answers(f"stream {name}", partial(self._declare, config))

    async def _declare(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        event_id: str,
        event_type: str,
        trace_headers: dict[str, str] | None = None,
    ) -> None:
        """Publish once per event id (JetStream drops duplicates inside the window)."""
        check_subject(subject, event_id=event_id)
        with self._producer_span(subject, event_id, trace_headers):
            headers = {MSG_ID_HEADER: event_id, EVENT_TYPE_HEADER: event_type}
            inject(headers)
            await self.js.publish(subject, payload, headers=headers)

    def _producer_span(self, subject: str, event_id: str, trace_headers: dict[str, str] | None):  # type: ignore[no-untyped-def]  # nats-py does not export its message and subscription types
        parent = extract(trace_headers) if trace_headers else None
        return tracer.start_as_current_span(
            f"{subject} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": subject,
                ATTR_EVENT_ID: event_id,
            },
        )

    async def publish_batch(self, events: Sequence[Outgoing], *, ack_timeout_s: float = 5.0) -> int:
        """Send `events` in order without waiting for each acknowledgement, then gather the acks.

        Returns how many events, counted from the first, JetStream acknowledged: the caller sends the
        rest again (under the same `Nats-Msg-Id`, so a stored one is dropped as a duplicate). One
        round trip per batch instead of one per event; the durability is the same (an event counts
        as published only once its ack arrived).
        """
        futures: list[asyncio.Future[PubAck]] = []
        for event in events:
            try:
                check_subject(event.subject, event_id=event.event_id)
            except UnsafeSubject:
                logger.error("an event of type %s has an unsafe subject; not published", event.event_type)
                break
            with self._producer_span(event.subject, event.event_id, event.trace_headers):
                headers = {MSG_ID_HEADER: event.event_id, EVENT_TYPE_HEADER: event.event_type}
                inject(headers)
                futures.append(await self.js.publish_async(event.subject, event.payload, headers=headers))
        if not futures:
            return 0
        done, waiting = await asyncio.wait(futures, timeout=ack_timeout_s)
        for future in waiting:
            future.cancel()
        # every outcome is read (no "exception never retrieved"); the acknowledged prefix counts
        ok = [f in done and not f.cancelled() and f.exception() is None for f in futures]
        acked = ok.index(False) if False in ok else len(ok)
        if acked < len(futures):
            logger.warning("JetStream acknowledged %d of %d events of a batch", acked, len(futures))
        return acked

    async def consume(
        self,
        *,
        durable: str,
        subject: str,
        handler: Handler,
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        batch_handler: BatchHandler | None = None,
        fetch_batch: int = FETCH_BATCH,
    ) -> None:
        """Start a durable pull consumer; replicas using the same durable share the work.

        With `batch_handler`, each fetched batch (up to `fetch_batch` messages) is applied by it at
        once (e.g. in one transaction) and each message acked after it returned; `handler` still
        handles a message alone when the batch as a whole failed."""
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=max_deliver,
            ack_wait=ack_wait_s,
            filter_subject=subject,
        )
        psub = await when_jetstream_answers(
            f"consumer {durable}", lambda: self.js.pull_subscribe(subject, durable=durable, config=config)
        )
        self._subscriptions.append(psub)
        consumer = PullConsumer(self, psub, durable, handler, batch_handler, max_deliver=max_deliver)
        task = asyncio.create_task(consumer.run(fetch_batch, FETCH_WAIT_S), name=durable)
        self._tasks.append(task)

    def delivery(self, msg, durable: str) -> Delivery | None:  # type: ignore[no-untyped-def]  # nats-py does not export its message and subscription types
        """The delivery of a message, or None for a replayed dead letter meant for another consumer."""
        headers = dict(msg.headers or {})
        if headers.get(REPLAY_FOR_HEADER, durable) != durable:
            return None
        return Delivery(
            subject=msg.subject,
            data=msg.data,
            event_id=headers.get(EVENT_ID_HEADER)
            or headers.get(MSG_ID_HEADER, f"{msg.metadata.stream}:{msg.metadata.sequence.stream}"),
            event_type=headers.get(EVENT_TYPE_HEADER, ""),
            num_delivered=msg.metadata.num_delivered,
            headers=headers,
        )

    def consumer_span(self, delivery: Delivery, durable: str) -> Span:
        return tracer.start_span(
            f"{delivery.subject} process",
            context=extract(delivery.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": delivery.subject,
                "messaging.consumer.group.name": durable,
                ATTR_DELIVERY_COUNT: delivery.num_delivered,
                ATTR_EVENT_ID: delivery.event_id,
            },
        )

    async def settle(  # type: ignore[no-untyped-def]  # nats-py does not export its message and subscription types
        self,
        msg,
        delivery: Delivery,
        durable: str,
        max_deliver: int,
        failure: BaseException | None,
        span: Span,
        started: float,
    ) -> None:
        """Ack a handled message, or retry / dead-letter a failed one; its event log line and metric."""
        outcome = "ack"
        if failure is None:
            try:
                await msg.ack()
            except Exception:  # applied and recorded as processed: a redelivery is ignored
                logger.warning("consumer %s could not ack %s", durable, delivery.event_id, exc_info=True)
        else:
            span.record_exception(failure)
            span.set_status(Status(StatusCode.ERROR, type(failure).__name__))
            if delivery.num_delivered >= max_deliver:
                outcome = "dead_lettered"
                await self._dead_letter(delivery, durable, failure)
                await msg.term()
            else:
                outcome = "retry"
                logger.warning(
                    "consumer %s failed on %s (delivery %d); will retry",
                    durable,
                    msg.subject,
                    delivery.num_delivered,
                    exc_info=failure,
                )
                await msg.nak(delay=min(0.2 * 2**delivery.num_delivered, 10))
        # one line per consumed event, inside its span: `grep <trace_id> var/logs/*.log` finds it
        event_log.info(
            "event",
            extra={
                "consumer": durable,
                "subject": msg.subject,
                "event_id": delivery.event_id,
                "delivery": delivery.num_delivered,
                "outcome": outcome,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        self._process_duration.record(
            time.perf_counter() - started,
            {"messaging.consumer.group.name": durable, "outcome": outcome},
        )

    async def _dead_letter(self, delivery: Delivery, durable: str, exc: BaseException) -> None:
        logger.error("consumer %s dead-lettered event %s", durable, delivery.event_id)
        headers = {
            # a replay that fails again is a new dead letter, not a duplicate of the first
            MSG_ID_HEADER: f"{durable}:{delivery.headers.get(MSG_ID_HEADER, delivery.event_id)}",
            EVENT_TYPE_HEADER: delivery.event_type,
            "Lattice-Original-Subject": delivery.subject,
            "Lattice-Original-Event-Id": delivery.event_id,
            "Lattice-Consumer": durable,
            "Lattice-Error": type(exc).__name__,
        }
        inject(headers)
        await self.js.publish(f"dlq.{durable}.{delivery.subject}", delivery.data, headers=headers)
        self._dead_letters.add(1, {"messaging.consumer.group.name": durable})

    async def caught_up(self, *, stream: str, durable: str) -> bool:
        """True when the durable consumer has processed everything its stream holds so far."""
        info = await self.js.consumer_info(stream, durable)
        return not info.num_pending and not info.num_ack_pending

    def _observe_lag(self, _options):  # type: ignore[no-untyped-def]  # nats-py does not export its message and subscription types
        return [
            metrics.Observation(pending, {"messaging.consumer.group.name": durable})
            for durable, pending in self.lag.items()
        ]

    async def close(self) -> None:
        """Stop consuming, let in-flight handlers finish, then drain the connection."""
        self.stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for psub in self._subscriptions:
            # a pull subscription has nothing left in flight once its loop stopped; unsubscribing it
            # keeps drain() from waiting for its drain timeout
            await psub.unsubscribe()
        if not self.nc.is_closed:
            await self.nc.drain()
