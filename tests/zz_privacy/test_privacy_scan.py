"""At the end of the session: the session stack's logs, exported spans and NATS payloads carry no
phone or ID-card numbers, and nothing a partner can see carries an internal customer id."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

from services.identity import demo_data
from tests.support.privacy import CUSTOMER_ID, findings, stream_payloads
from tools.stack import Stack

SPAN_FLUSH_S = 5.5  # BatchSpanProcessor's default schedule delay, plus a margin


def test_the_scanner_finds_what_it_looks_for() -> None:
    sample = (
        'x {"phone": "13800138001", "id": "11010519491231002X", "t": "1732612345678901234"} ab13812345678'
    )
    assert findings(sample + " card 6222020200112233445 4111111111111111", "sample") == [
        "sample: phone number 13800138001",
        "sample: ID-card number 11010519491231002X",
        "sample: phone number 13812345678",  # letters around a number do not hide it
        "sample: card number 4111111111111111",
    ]


def _files(var_dir: Path) -> Iterator[Path]:
    yield from sorted((var_dir / "logs").glob("*.log"))
    yield from sorted((var_dir / "telemetry").glob("*.spans.jsonl"))


def _as_written(text: str) -> str:
    """JSON lines decoded, so numbers written with escaped characters (full-width digits) are read."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            lines.append(line)
    return "\n".join(lines)


def test_logs_and_spans_carry_no_phone_or_id_card_numbers(stack: Stack) -> None:
    time.sleep(SPAN_FLUSH_S)
    demo_phones = [str(c[3]["phone_number"]) for c in demo_data.DEMO_CUSTOMERS if "phone_number" in c[3]]
    problems: list[str] = []
    scanned = 0
    for path in _files(stack.config.var_dir):
        text = _as_written(path.read_text(encoding="utf-8", errors="replace"))
        scanned += len(text)
        problems += findings(text, path.name)
        problems += [f"{path.name}: demo phone {p}" for p in demo_phones if p in text]
    assert scanned > 0, "the session stack wrote no logs or spans"
    assert not problems, "\n".join(problems[:20])


def _partner_visible_spans(var_dir: Path) -> Iterator[dict[str, object]]:
    for path in (var_dir / "telemetry").glob("*.spans.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            span = json.loads(line) if line.startswith("{") else {}
            attrs = span.get("attributes") or {}
            target = str(attrs.get("http.route") or attrs.get("url.path") or attrs.get("http.target") or "")
            if target.startswith("/v1/partner") or target.startswith("/r/"):
                yield span


def test_nothing_partners_see_carries_an_internal_customer_id(stack: Stack) -> None:
    time.sleep(SPAN_FLUSH_S)
    leaks = [
        str(span.get("name"))
        for span in _partner_visible_spans(stack.config.var_dir)
        if CUSTOMER_ID.search(json.dumps(span.get("attributes") or {}))
    ]
    assert not leaks, leaks[:10]
    urls = []
    for path in (stack.config.var_dir / "telemetry").glob("*.spans.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            for key in ('"url.path"', '"http.target"', '"url.query"', '"http.url"', '"url.full"'):
                if key in line:
                    urls += [m for m in re.findall(key + r': "([^"]*)"', line) if CUSTOMER_ID.search(m)]
    assert not urls, f"customer ids in request URLs: {urls[:5]}"


def test_nats_payloads_carry_no_phone_or_id_card_numbers(stack: Stack) -> None:
    payloads = stream_payloads(stack.config.nats_url)
    problems: list[str] = []
    for subject, data in payloads:
        problems += findings(subject + " " + data.decode("utf-8", errors="replace"), subject)
        if subject.startswith("conversion.postback") or subject.startswith("partner."):
            problems += [
                f"{subject}: internal customer id" for _ in CUSTOMER_ID.findall(data.decode("latin-1"))
            ]
    assert payloads, "the session produced no NATS messages"
    assert not problems, "\n".join(problems[:20])
