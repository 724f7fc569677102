"""Scanning what a run produced (logs, spans, JetStream payloads) for personal data."""

from __future__ import annotations

import asyncio
import json
import re

import nats
from nats.js.errors import NotFoundError

from services.runtime.personal_data import find_personal_numbers

CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{20}")


# Trace and span ids in logs and span files: random hex that cannot carry a client's data, but an id
# made only of decimal digits can pass a card number's checks by chance
TRACE_IDS = re.compile(
    r'"(?:trace_id|span_id|parent_id|parent_span_id)": "(?:0x)?[0-9a-f]{16,32}"'
    r"|[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"
)


def without_trace_ids(text: str) -> str:
    """`text` with its trace and span ids (and W3C traceparent values) replaced by a placeholder."""
    return TRACE_IDS.sub('"<trace id>"', text)


def findings(text: str, where: str) -> list[str]:
    """Phone, ID-card and card numbers found in `text` (the product's own scanner), trace ids aside."""
    return [f"{where}: {f.label} {f.digits}" for f in find_personal_numbers(without_trace_ids(text))]


async def _stream_payloads(url: str) -> list[tuple[str, bytes]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    out: list[tuple[str, bytes]] = []
    try:
        for info in await js.streams_info():
            last = info.state.last_seq
            for seq in range(info.state.first_seq, last + 1 if info.state.messages else 0):
                try:
                    msg = await js.get_msg(info.config.name, seq)
                except NotFoundError:
                    continue
                headers = json.dumps(dict(msg.headers or {}), ensure_ascii=False)
                out.append((msg.subject or "", (msg.data or b"") + headers.encode()))
    finally:
        await nc.close()
    return out


def stream_payloads(url: str) -> list[tuple[str, bytes]]:
    """(subject, payload + headers) of every message kept in every JetStream stream."""
    return asyncio.run(_stream_payloads(url))
