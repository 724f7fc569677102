"""The whole system starts as real processes and the gateway reports every service ready."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from services.runtime.config import SERVICES
from tools.stack import Process, Stack, StackConfig, free_ports


def test_readyz_reports_every_service(gateway: httpx.Client) -> None:
    resp = gateway.get("/readyz")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["nats"] is True
    assert set(body["services"]) == set(SERVICES)
    assert all(status == "SERVING" for status in body["services"].values())


def test_readyz_turns_not_ready_when_a_service_stops(private_stack: Stack) -> None:
    private_stack.start()
    private_stack.processes["content"].stop()
    resp = httpx.get(f"{private_stack.config.gateway_url}/readyz", timeout=5)
    assert resp.status_code == 503
    assert resp.json()["services"]["content"] != "SERVING"


def _misrouted(stack: Stack, var_dir: Path) -> Stack:
    """A stack config whose conversion address is answered by the shared stack's identity server."""
    config = StackConfig.ephemeral(
        var_dir, external_nats_url=stack.config.nats_url, extra_env={"PKI_DIR": str(stack.config.pki_dir)}
    )
    ports = stack.config.service_ports
    config.service_ports = {**ports, "conversion": ports["identity"]}
    return Stack(config)


def test_a_service_port_answered_by_another_service_is_not_taken_as_ready(
    stack: Stack, tmp_path: Path
) -> None:
    misrouted = _misrouted(stack, tmp_path / "var")
    # a live process standing in for a conversion service that failed to bind its port
    stand_in = Process("conversion", ["sleep", "30"], misrouted.base_env(), misrouted.log_dir)
    stand_in.start()
    misrouted.processes["conversion"] = misrouted.processes["identity"] = stand_in
    try:
        with pytest.raises(TimeoutError):
            misrouted.wait_service("conversion", timeout=2)
        misrouted.wait_service("identity", timeout=5)  # the same port passes when asked for identity
    finally:
        stand_in.kill()


def test_readyz_reports_a_misrouted_service_as_not_found(stack: Stack, tmp_path: Path) -> None:
    misrouted = _misrouted(stack, tmp_path / "var")
    misrouted.start_gateway()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = httpx.get(f"{misrouted.config.gateway_url}/readyz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.2)
        assert resp.status_code == 503, resp.text
        services = resp.json()["services"]
        # identity's certificate does not name conversion: the TLS handshake itself fails
        assert services["conversion"] == "UNAVAILABLE"
        assert services["identity"] == "SERVING"
    finally:
        misrouted.stop()


def test_free_ports_are_distinct() -> None:
    # Binding port 0 and closing before the next bind hands the same port out again now and then
    # (two services of one stack on one port: the CI failure this guards against).
    ports = free_ports(64)
    assert len(set(ports)) == 64
