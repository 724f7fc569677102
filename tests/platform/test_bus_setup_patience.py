"""A process that starts while JetStream cannot answer yet (a cluster still electing its leaders, a
server restarting) waits for it and then declares its streams and consumers, instead of exiting."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from services.runtime import bus as bus_module
from services.runtime.bus import Bus
from tools.stack import Process, free_port, nats_server_binary, wait_for_port


def _server(tmp_path: Path, port: int, *, jetstream: bool) -> Process:
    args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)]
    if jetstream:
        args += ["-js", "-sd", str(tmp_path / "js")]
    proc = Process(f"nats-js-{jetstream}", args, dict(os.environ), tmp_path)
    proc.start()
    return proc


async def _noop(_delivery: object) -> None:
    return None


async def test_setup_waits_for_jetstream_then_declares_streams_and_consumers(tmp_path: Path) -> None:
    port = free_port()
    plain = _server(tmp_path, port, jetstream=False)  # NATS answers, JetStream does not
    wait_for_port(port, plain, timeout=10)
    with_js: Process | None = None
    try:
        connecting = asyncio.create_task(Bus.connect(f"nats://127.0.0.1:{port}", name="patience"))
        await asyncio.sleep(1.5)
        assert not connecting.done(), connecting  # still waiting, not failed
        plain.stop()
        with_js = _server(tmp_path, port, jetstream=True)
        bus = await asyncio.wait_for(connecting, 30)
        try:
            info = await bus.js.stream_info("IDENTITY")
            assert info.config.subjects == ["identity.>"]
            await bus.consume(durable="patience", subject="identity.>", handler=_noop)
            assert (await bus.js.consumer_info("IDENTITY", "patience")).config.durable_name == "patience"
        finally:
            await bus.close()
    finally:
        plain.stop()
        if with_js is not None:
            with_js.stop()


async def test_setup_gives_up_with_the_error_when_jetstream_never_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "SETUP_PATIENCE_S", 1.0)
    port = free_port()
    plain = _server(tmp_path, port, jetstream=False)
    wait_for_port(port, plain, timeout=10)
    try:
        with pytest.raises(bus_module.ServiceUnavailableError):
            await asyncio.wait_for(Bus.connect(f"nats://127.0.0.1:{port}", name="patience"), 15)
    finally:
        plain.stop()
