"""A system of the journey's own: every process exports spans to a test OTLP receiver, and
conversion may deliver postbacks to the test's local partner receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.runtime.stack import Stack
from tests.support.otlp import OtlpReceiver
from tests.support.system import running_system
from tools.postback_receiver import PostbackReceiver


@dataclass
class JourneyWorld:
    stack: Stack
    spans: OtlpReceiver
    partner: PostbackReceiver


def journey_env(receiver: PostbackReceiver, spans: OtlpReceiver) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "OUTBOX_POLL_INTERVAL_S": "0.2",
        "CONVERSION_POSTBACK_ALLOWLIST": f'["127.0.0.1:{receiver.port}"]',
        "CONVERSION_POSTBACK_BACKOFF_S": "0.5",
        "REACH_RETRY_DELAY_S": "1",
        **spans.env(),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JourneyWorld]:
    spans = OtlpReceiver().start()
    partner = PostbackReceiver().start()
    try:
        env = journey_env(partner, spans)
        with running_system(tmp_path_factory.mktemp("journey"), extra_env=env) as stack:
            yield JourneyWorld(stack, spans, partner)
    finally:
        partner.stop()
        spans.stop()
