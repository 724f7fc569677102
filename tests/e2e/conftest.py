"""A system of the journey's own: every process exports spans to a test OTLP receiver, and
conversion may deliver postbacks to the test's local partner receiver. The tests run on SQLite and,
under make test-postgres, again with every service on its own PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.databases import DATABASE_KINDS, service_databases
from tests.support.otlp import OtlpReceiver
from tests.support.system import running_system
from tools.postback_receiver import PostbackReceiver
from tools.stack import Stack


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


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JourneyWorld]:
    """On SQLite files; on PostgreSQL (make test-postgres) every service on a database of its own."""
    spans = OtlpReceiver().start()
    partner = PostbackReceiver().start()
    var_dir = tmp_path_factory.mktemp("journey")
    try:
        with service_databases(request.param, var_dir) as databases:
            env = {**journey_env(partner, spans), **databases}
            with running_system(var_dir, extra_env=env) as stack:
                yield JourneyWorld(stack, spans, partner)
    finally:
        partner.stop()
        spans.stop()
