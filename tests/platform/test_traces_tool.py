"""tools.traces reads the spans the embedded default writes and hands them to an OTLP/HTTP endpoint."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry import propagate
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.runtime.telemetry import _span_exporter

ROOT = Path(__file__).resolve().parents[2]


def write_trace(var_dir: Path) -> str:
    """A request through the gateway to identity, written by the processes' own span exporter."""
    files: list = []
    providers = {}
    for service in ("gateway", "identity"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(_span_exporter(service, var_dir, files)))
        providers[service] = provider
    gateway, identity = (providers[s].get_tracer("test") for s in ("gateway", "identity"))
    carrier: dict[str, str] = {}
    with gateway.start_as_current_span(
        "GET /v1/apps/{app_id}/me", kind=SpanKind.SERVER, attributes={"http.status_code": 409}
    ) as root:
        with gateway.start_as_current_span("IdentityService/GetCustomer", kind=SpanKind.CLIENT):
            propagate.inject(carrier)
    with identity.start_as_current_span(
        "IdentityService/GetCustomer", kind=SpanKind.SERVER, context=propagate.extract(carrier)
    ) as served:
        served.set_attribute("lattice.reason", "consent_required")
        served.set_status(Status(StatusCode.ERROR, "consent required"))
    for provider in providers.values():
        provider.shutdown()
    for f in files:
        f.close()
    return format(root.get_span_context().trace_id, "032x")


def traces_cli(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    cmd = [sys.executable, "-m", "tools.traces", "--var-dir", str(var_dir), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_show_prints_the_trace_as_a_tree_across_processes(var_dir: Path) -> None:
    trace_id = write_trace(var_dir)
    with (var_dir / "telemetry/identity.spans.jsonl").open("a") as f:
        f.write('{"name": "torn')  # a process killed mid-write
    listed = traces_cli(var_dir, "list")
    assert listed.returncode == 0 and trace_id in listed.stdout and "[gateway,identity]" in listed.stdout
    shown = traces_cli(var_dir, "show", trace_id)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert (
        lines[0].startswith("[gateway] GET /v1/apps/{app_id}/me (server,")
        and "http.status_code=409" in lines[0]
    )
    assert lines[1].startswith("  [gateway] IdentityService/GetCustomer (client,")
    assert lines[2].startswith("    [identity] IdentityService/GetCustomer (server,")
    assert "ERROR" in lines[2] and "lattice.reason=consent_required" in lines[2]
    assert traces_cli(var_dir, "show", "0" * 32).returncode == 1


def test_export_posts_otlp_json_that_the_otlp_schema_accepts(var_dir: Path) -> None:
    trace_id = write_trace(var_dir)
    received: list[tuple[str, str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = traces_cli(var_dir, "export", "--endpoint", f"http://127.0.0.1:{server.server_port}", trace_id)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "exported 3 spans of 1 traces" in done.stdout
    [(path, content_type, body)] = received
    assert (path, content_type) == ("/v1/traces", "application/json")
    payload = json.loads(body)
    spans = {
        s["spanId"]: s for rs in payload["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
    }
    assert {s["traceId"] for s in spans.values()} == {trace_id}
    served = next(s for s in spans.values() if s["status"]["code"] == 2)
    client = spans[served["parentSpanId"]]
    assert (client["kind"], served["kind"]) == (3, 2) and spans[client["parentSpanId"]]["kind"] == 2
    for s in spans.values():  # OTLP/JSON ids are hex; the protobuf JSON mapping wants base64
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in s:
                s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    request = json_format.Parse(json.dumps(payload), ExportTraceServiceRequest())
    assert sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans) == 3
    assert request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() == trace_id
