"""Scanning what a run produced (logs, spans, JetStream payloads) for personal data."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date

import nats
from nats.js.errors import NotFoundError

_EDGE = r"(?<![0-9A-Za-z_]){}(?![0-9A-Za-z_])"
PHONE = re.compile(_EDGE.format(r"1[3-9][0-9]{9}"))
ID_CARD = re.compile(_EDGE.format(r"[1-9][0-9]{16}[0-9Xx]"))
# Card numbers by issuer prefix (Visa, Mastercard, UnionPay, Amex), confirmed by the Luhn check.
CARD = re.compile(_EDGE.format(r"(?:4[0-9]{15,18}|5[1-5][0-9]{14}|62[0-9]{14,17}|3[47][0-9]{13})"))
CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{20}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def is_id_card(candidate: str) -> bool:
    """A PRC resident ID number: a real birth date and the ISO 7064 MOD 11-2 check character."""
    try:
        date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(candidate[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == candidate[17].upper()


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def findings(text: str, where: str) -> list[str]:
    """Phone, ID-card and card numbers found in `text`."""
    found = [f"{where}: phone number {m}" for m in PHONE.findall(text)]
    found += [f"{where}: ID-card number {m}" for m in ID_CARD.findall(text) if is_id_card(m)]
    found += [f"{where}: card number {m}" for m in CARD.findall(text) if luhn(m)]
    return found


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
                headers = json.dumps(dict(msg.headers or {}))
                out.append((msg.subject or "", (msg.data or b"") + headers.encode()))
    finally:
        await nc.close()
    return out


def stream_payloads(url: str) -> list[tuple[str, bytes]]:
    """(subject, payload + headers) of every message kept in every JetStream stream."""
    return asyncio.run(_stream_payloads(url))
