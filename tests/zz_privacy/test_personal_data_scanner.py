"""The shared scanner finds personal numbers in every form, and ordinary ids, amounts and times are not
personal numbers; the runtime's log filter and span exporter scrub what slips through."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from pythonjsonlogger.json import JsonFormatter

from services.runtime.personal_data import find_personal_numbers, fold, scrub
from services.runtime.telemetry import PersonalDataFilter, ScrubbingSpanExporter
from tests.zz_privacy.numbers import Generated, personal_numbers

CI = settings(derandomize=True, max_examples=300, deadline=None, database=None)


def _digits_left(text: str, digits: str) -> bool:
    folded = "".join(ch for ch in fold(text)[0] if ch.isalnum()).upper()
    return digits.upper() in folded


@CI
@given(number=personal_numbers(), before=st.sampled_from(["", "a ", '{"k": "', "x\n"]))
def test_every_form_is_found_and_scrubbed(number: Generated, before: str) -> None:
    text = f"{before}{number.text} and more"
    found = find_personal_numbers(text)
    assert [(f.kind, f.digits) for f in found] == [(number.kind, number.digits.upper())], text
    cleaned = scrub(text)
    assert not find_personal_numbers(cleaned) and not _digits_left(cleaned, number.digits), cleaned
    assert cleaned.startswith(before) and cleaned.endswith(" and more")


ORDINARY = [
    "550e8400-e29b-41d4-a716-446655440000",
    "2026-11-28T20:50:02.123456+00:00",
    "2026-11-28 13:50:02,123",
    "1795687200",  # epoch seconds
    "1795687200123",  # epoch ms
    "1795687200123456789",  # epoch ns
    "0x5b8aa5a2d2c872e8321cf37308d69df2",  # a trace id as the span files write it
    "cus_13800138000abcdef12",  # an internal id in hex that happens to hold phone-like digits
    "order 123456789012",  # 12 digits
    "order 1234567890",  # 10 digits
    "amounts 15.00 17.50 1.99 and 1,380,013,800.00",
    "6222020200112233445",  # not Luhn-valid
    "11010519491231002Y",  # not an ID check character
    "11010519491331002X",  # no 13th month
    "v1.3.8-13.0",
]


def test_ordinary_ids_amounts_and_times_are_not_personal_numbers() -> None:
    assert [(t, find_personal_numbers(t)) for t in ORDINARY if find_personal_numbers(t)] == []


@CI
@given(
    st.one_of(
        st.uuids().map(str),
        st.uuids().map(lambda u: u.hex),
        st.integers(0, 2**64 - 1).map(lambda i: f"{i:016x}"),
        st.integers(1_600_000_000_000, 2_100_000_000_000).map(str),
        st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(lambda d: d.isoformat()),
        st.integers(0, 10**12).map(lambda cents: f"{cents // 100}.{cents % 100:02d}"),
    )
)
def test_generated_ids_times_and_amounts_are_not_personal_numbers(text: str) -> None:
    assert find_personal_numbers(text) == [], text


def test_the_log_filter_scrubs_messages_arguments_exceptions_and_extras() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger(f"test.{uuid.uuid4().hex}")
    log.addHandler(handler)
    log.propagate = False
    try:
        raise ValueError("no partner user ＋８６ １３８ ００１３ ８０００")
    except ValueError:
        log.exception(
            "click %s retried for %s",
            "13800138000",
            "110105 19491231 002X",
            extra={"ref": "4111-1111-1111-1111"},
        )
    record = json.loads(out.getvalue())
    assert not find_personal_numbers(json.dumps(record, ensure_ascii=False)), record
    assert "ValueError" in record["exc_info"] and "[personal-number]" in record["message"]


def test_the_span_exporter_scrubs_names_attributes_events_and_status() -> None:
    out = io.StringIO()
    provider = TracerProvider()
    inner = ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n")
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(inner)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("app.event.13800138000 publish") as span:
        span.set_attribute("url.path", "/v1/partner/bindings/138-0013-8000")
        span.set_attribute("tags", ["ok", "4111 1111 1111 1111"])
        span.record_exception(RuntimeError("device 11010519491231002X"))
    provider.shutdown()
    text = json.dumps(json.loads(out.getvalue()), ensure_ascii=False)
    assert not find_personal_numbers(text), text
    assert "/v1/partner/bindings/[personal-number]" in text


def test_scrubbing_is_cheap_on_text_without_digits() -> None:
    started = datetime.now(UTC)
    for _ in range(20_000):
        scrub("consumer reach-app-events failed on app.event.page_viewed; will retry")
    assert datetime.now(UTC) - started < timedelta(seconds=2)
