"""Scanning what a run produced (logs, spans, JetStream payloads) for personal data."""

from __future__ import annotations

import asyncio
import json
import re

import nats
from nats.js.errors import NotFoundError

from services.runtime.personal_data import find_personal_numbers

CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{20}")


def findings(text: str, where: str) -> list[str]:
    """Phone, ID-card and card numbers found in `text` (the product's own scanner)."""
    return [f"{where}: {f.label} {f.digits}" for f in find_personal_numbers(text)]


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
