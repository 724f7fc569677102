"""The bus publishes only on subjects of safe tokens, and never a personal number as subject or event id
(on a real JetStream: a refused publish leaves nothing in the stream)."""

from __future__ import annotations

import uuid

import pytest

from services.runtime.bus import Bus, UnsafeSubject


@pytest.mark.parametrize(
    ("subject", "event_id"),
    [
        ("app.event.u13800138000", "e-1"),
        ("app.event.card_4111-1111-1111-1111", "e-2"),
        ("app.event.page viewed", "e-3"),
        ("app.event.*", "e-4"),
        ("app.event.page_viewed", "tel-138 0013 8000"),
    ],
)
async def test_unsafe_subjects_and_event_ids_are_refused(nats_url: str, subject: str, event_id: str) -> None:
    bus = await Bus.connect(nats_url, name=f"subject-test-{uuid.uuid4().hex[:6]}")
    try:
        before = (await bus.js.stream_info("APP_EVENTS")).state.messages
        with pytest.raises(UnsafeSubject) as refused:
            await bus.publish(subject, b"x", event_id=event_id, event_type="t")
        assert "1380" not in str(refused.value) and "4111" not in str(refused.value)
        await bus.publish("app.event.page_viewed", b"x", event_id=uuid.uuid4().hex, event_type="t")
        assert (await bus.js.stream_info("APP_EVENTS")).state.messages == before + 1
    finally:
        await bus.close()
