"""The memory soak's NATS side: the embedded server runs with a stated memory budget, and the soak
reads what each stream holds beside the RSS (NATS's footprint follows the streams' written blocks)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services.runtime.bus import STREAMS, Bus
from tools.bench.soak import jetstream_state, soak_markdown, written
from tools.stack import NATS_MEMORY_LIMIT, Stack, StackConfig


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.fixture
def nats_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(StackConfig.ephemeral(tmp_path / "var"))
    stack.start_nats()
    try:
        yield stack
    finally:
        stack.stop()


def test_the_embedded_server_runs_with_its_memory_budget(nats_stack: Stack, tmp_path: Path) -> None:
    popen = nats_stack.processes["nats"].popen
    assert popen is not None
    assert _environ(popen.pid)["GOMEMLIMIT"] == NATS_MEMORY_LIMIT

    other = Stack(StackConfig.ephemeral(tmp_path / "other", extra_env={"NATS_GOMEMLIMIT": "96MiB"}))
    other.start_nats()
    try:
        popen = other.processes["nats"].popen
        assert popen is not None
        assert _environ(popen.pid)["GOMEMLIMIT"] == "96MiB"
    finally:
        other.stop()


def test_the_soak_reads_what_each_stream_gained(nats_stack: Stack) -> None:
    url = nats_stack.config.nats_url

    async def declare_and_publish(count: int) -> None:
        bus = await Bus.connect(url, name="soak-test")
        try:
            for n in range(count):
                await bus.publish(
                    "conversion.soak.probe", b"x" * 300, event_id=uuid.uuid4().hex, event_type=f"p{n}"
                )
        finally:
            await bus.close()

    asyncio.run(declare_and_publish(0))
    before = jetstream_state(url)
    assert set(before) == set(STREAMS)
    assert all(s == {"messages": 0, "bytes": 0} for s in before.values())

    asyncio.run(declare_and_publish(5))
    after = jetstream_state(url)
    gained = written(before, after)
    assert list(gained) == ["CONVERSION"]
    assert gained["CONVERSION"]["messages"] == 5
    assert gained["CONVERSION"]["bytes"] > 5 * 300

    result = {
        "seconds": 60,
        "rate_rps": 50,
        "mix": {"conversion.redirect": {"errors": 0}},
        "processes": {
            "nats": {
                "rss_at_rest_mb": 20.0,
                "rss_before_mb": 22.0,
                "rss_after_mb": 30.0,
                "growth": 0.3636,
                "rss_rested_mb": 21.0,
            }
        },
        "bar": 0.1,
        "within_bar": False,
        "settled_s": 1.5,
        "rest_s": 300,
        "streams": {"before": before, "after": after},
    }
    text = soak_markdown(result)
    assert "| after soak MB | growth | 300s at rest MB |" in text
    assert "| nats | 20.0 | 22.0 | 30.0 | +36.4% | 21.0 |" in text
    assert "JetStream during the soak: +5 messages" in text
    assert "CONVERSION +5" in text
    assert "growth bar 10%: MISSED" in text


def test_every_deployed_nats_server_states_its_memory_budget() -> None:
    root = Path(__file__).resolve().parents[2]
    single = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]["nats"]
    cluster = yaml.safe_load((root / "infra/nats/cluster/compose.yml").read_text())["services"]
    for name, service in {"nats": single, **{f"cluster {n}": s for n, s in cluster.items()}}.items():
        assert service["environment"]["GOMEMLIMIT"] == "256MiB", name
