"""A durable pull consumer's loop: fetch, hand each message (or the fetched batch) to its handler,
and let the bus settle each by its own outcome (ack, retry with backoff, dead letter)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace

if TYPE_CHECKING:
    from services.runtime.bus import BatchHandler, Bus, Handler

logger = logging.getLogger(__name__)
LAG_CHECK_S = 5.0  # how often the loop reads its consumer's pending count (the lag metric)


class PullConsumer:
    """One durable's loop on one bus; replicas using the same durable share the work."""

    def __init__(  # type: ignore[no-untyped-def]  # nats-py does not export its subscription type
        self,
        bus: Bus,
        psub,
        durable: str,
        handler: Handler,
        batch_handler: BatchHandler | None,
        *,
        max_deliver: int,
    ) -> None:
        self.bus, self.psub, self.durable = bus, psub, durable
        self.handler, self.batch_handler, self.max_deliver = handler, batch_handler, max_deliver

    async def run(self, fetch_batch: int, wait_s: float) -> None:
        """Pull up to `fetch_batch` messages at a time, waiting at most `wait_s` for the first."""
        last_lag_check = 0.0
        while not self.bus.stopping.is_set():
            try:
                if time.monotonic() - last_lag_check > LAG_CHECK_S:
                    last_lag_check = time.monotonic()
                    info = await self.psub.consumer_info()
                    self.bus.lag[self.durable] = info.num_pending
                msgs = await self.psub.fetch(batch=fetch_batch, timeout=wait_s)
            except (NatsTimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("fetch failed for consumer %s; retrying", self.durable, exc_info=True)
                await asyncio.sleep(1)
                continue
            if self.batch_handler is not None and len(msgs) > 1:
                await self._process_batch(msgs, self.batch_handler)
                continue
            for msg in msgs:
                await self._process(msg)

    async def _process(self, msg) -> None:  # type: ignore[no-untyped-def]  # nats-py does not export its message type
        delivery = self.bus.delivery(msg, self.durable)
        if delivery is None:
            await msg.ack()
            return
        started = time.perf_counter()
        span = self.bus.consumer_span(delivery, self.durable)
        with trace.use_span(span, end_on_exit=True):
            failure: BaseException | None = None
            try:
                await self.handler(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = exc
            await self.bus.settle(msg, delivery, self.durable, self.max_deliver, failure, span, started)

    async def _process_batch(self, msgs, batch_handler: BatchHandler) -> None:  # type: ignore[no-untyped-def]  # nats-py does not export its message type
        """Apply a fetched batch at once; ack, retry or dead-letter each message by its own outcome."""
        batch = []
        for msg in msgs:
            delivery = self.bus.delivery(msg, self.durable)
            if delivery is None:
                await msg.ack()
                continue
            delivery.span = self.bus.consumer_span(delivery, self.durable)
            batch.append((msg, delivery))
        if not batch:
            return
        started = time.perf_counter()
        try:
            outcomes = await batch_handler([delivery for _msg, delivery in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        except asyncio.CancelledError:
            for _msg, delivery in batch:
                if delivery.span is not None:
                    delivery.span.end()
            raise
        except Exception as exc:
            # nothing of the batch was applied: each message again, alone, through the handler
            logger.warning(
                "consumer %s could not apply a batch of %d; one by one",
                self.durable,
                len(batch),
                exc_info=True,
            )
            for msg, delivery in batch:
                span = delivery.span
                assert span is not None
                span.record_exception(exc)
                span.end()
                await self._process(msg)
            return
        for (msg, delivery), failure in zip(batch, outcomes, strict=True):
            span = delivery.span
            assert span is not None
            with trace.use_span(span, end_on_exit=True):
                await self.bus.settle(msg, delivery, self.durable, self.max_deliver, failure, span, started)
