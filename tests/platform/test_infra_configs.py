"""The infra files of the compose deployment, checked with the real tools they feed where we have them:
nats-server, the container healthcheck, protoc, and the metric names the code emits."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml
from grpc_health.v1 import health_pb2
from opentelemetry.semconv.metrics import MetricInstruments

from services.runtime.callers import CallerPolicy
from services.runtime.grpc_server import build_server
from services.runtime.pki import ensure_pki, load_identity
from tools.stack import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "infra/docker/healthcheck.py"
# OTel instrument -> (where the code names it, the Prometheus family the collector exports)
METRICS = {
    "http.server.duration": ("", "http_server_duration_milliseconds"),
    "rpc.server.duration": ("services/runtime/grpc_server.py", "rpc_server_duration_seconds"),
    "messaging.process.duration": ("services/runtime/bus.py", "messaging_process_duration_seconds"),
    "messaging.consumer.lag": ("services/runtime/bus.py", "messaging_consumer_lag"),
}
# labels of those metrics (attributes of the instruments, dots turned into underscores)
LABELS = {
    "http_target",
    "http_method",
    "http_status_code",
    "rpc_method",
    "rpc_grpc_status_code",
    "messaging_consumer_group_name",
}


@pytest.mark.parametrize("conf", ["infra/nats/nats.conf", "infra/nats/cluster/nats-cluster.conf"])
def test_nats_configs_are_valid_and_fsync_every_write(conf: str) -> None:
    text = (ROOT / conf).read_text()
    assert re.search(r"^\s*sync_interval:\s*always\s*$", text, flags=re.M)
    # the cluster's nodes take their names, addresses and routes from compose's environment
    env = {**os.environ, **_cluster_node_env("nats")} if "cluster" in conf else dict(os.environ)
    checked = subprocess.run(
        [nats_server_binary(), "-c", str(ROOT / conf), "-t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def _cluster_node_env(service: str) -> dict[str, str]:
    override = yaml.safe_load((ROOT / "infra/nats/cluster/compose.yml").read_text())["services"]
    return {k: str(v) for k, v in override[service]["environment"].items()}


def test_nats_cluster_routes_name_the_three_nodes_of_its_compose_file() -> None:
    override = yaml.safe_load((ROOT / "infra/nats/cluster/compose.yml").read_text())["services"]
    assert "routes: $NATS_ROUTES" in (ROOT / "infra/nats/cluster/nats-cluster.conf").read_text()
    for service in ("nats", "nats-2", "nats-3"):  # every node routes to all three
        routes = re.findall(r"nats-route://([\w-]+):6222", _cluster_node_env(service)["NATS_ROUTES"])
        assert sorted(routes) == ["nats-1", "nats-2", "nats-3"], service
    nodes = {override["nats"]["environment"]["NATS_SERVER_NAME"]: "nats"}
    nodes |= {
        svc["environment"]["NATS_SERVER_NAME"]: name for name, svc in override.items() if name != "nats"
    }
    assert sorted(routes) == sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    assert "nats-1" in override["nats"]["networks"]["default"]["aliases"]
    for name in ("nats-2", "nats-3"):
        assert nodes[name] == name


async def test_healthcheck_follows_the_grpc_health_service(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki")
    identity = load_identity("identity", pki.resolve())
    server, servicer = build_server(CallerPolicy(), identity)
    port = server.add_secure_port("127.0.0.1:0", identity.server_credentials())
    await server.start()

    async def probe(peer: str = "identity") -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HEALTHCHECK), "--peer", peer, "grpc", f"127.0.0.1:{port}",
            env={**os.environ, "PKI_DIR": str(pki)},
        )  # fmt: skip
        return await asyncio.wait_for(proc.wait(), timeout=30)

    try:
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await probe() == 0
        assert await probe(peer="benefits") == 1  # another service's certificate was expected
        await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert await probe() == 1
    finally:
        await server.stop(grace=None)
    assert await probe() == 1


def test_healthcheck_follows_http_readiness() -> None:
    status = {"code": 200}

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    probe = [sys.executable, str(HEALTHCHECK), "http", f"http://127.0.0.1:{server.server_port}/readyz"]
    try:
        assert subprocess.run(probe, timeout=30).returncode == 0
        status["code"] = 503
        assert subprocess.run(probe, timeout=30).returncode == 1
    finally:
        server.shutdown()
    assert subprocess.run([sys.executable, str(HEALTHCHECK), "tcp", "x"], timeout=30).returncode == 2


def test_image_build_step_generates_the_protos(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    done = subprocess.run(
        ["sh", str(ROOT / "infra/docker/gen_protos.sh"), str(tmp_path), sys.executable],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for proto in (ROOT / "protos").rglob("*.proto"):
        generated = tmp_path / "gen" / proto.relative_to(ROOT / "protos").with_suffix("")
        assert generated.with_name(generated.name + "_pb2.py").is_file(), proto
    assert (tmp_path / "gen/lattice/__init__.py").is_file()


def test_collector_sends_traces_to_jaeger_and_metrics_to_prometheus() -> None:
    collector = yaml.safe_load((ROOT / "infra/otel/collector.yaml").read_text())
    pipelines = collector["service"]["pipelines"]
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(collector[kind])
    [traces_out] = pipelines["traces"]["exporters"]
    assert collector["exporters"][traces_out]["endpoint"] == "jaeger:4317"
    [metrics_out] = pipelines["metrics"]["exporters"]
    port = collector["exporters"][metrics_out]["endpoint"].rsplit(":", 1)[1]
    scrape = yaml.safe_load((ROOT / "infra/grafana/prometheus.yml").read_text())
    assert [f"otel-collector:{port}"] in [
        c["targets"] for j in scrape["scrape_configs"] for c in j["static_configs"]
    ]


def test_dashboard_and_docs_query_only_metrics_the_code_emits() -> None:
    # the FastAPI instrumentation (old HTTP semantic conventions, unit ms) names the HTTP one
    assert MetricInstruments.HTTP_SERVER_DURATION == "http.server.duration"
    for name, (source, _family) in METRICS.items():
        if source:
            assert f'"{name}"' in (ROOT / source).read_text(), f"{name} is no longer emitted by {source}"
    families = {family for _src, family in METRICS.values()}
    dashboard = json.loads((ROOT / "infra/grafana/dashboards/lattice-red.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    docs = (ROOT / "docs/operations.md").read_text()
    exprs += re.findall(r"```promql\n(.*?)```", docs, flags=re.S)
    names = {
        re.sub(r"_(bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"\b[a-z][a-z_]+\b", e)
    }
    assert {n for n in names if n.startswith(("http_", "rpc_", "messaging_"))} - LABELS == families
