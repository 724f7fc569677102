"""`make bench --trace-sampling production`: the system runs with production's trace sampling, and
every process follows the gateway's decision (parent-based), so a request sampled out leaves no span
downstream: no process exports a span of a trace whose root was not kept."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tools.bench.sampling import SAMPLING, parse_modes, sampled_row, sampling_markdown
from tools.bench.scenario import discover, run_setup
from tools.bench.system import bench_system

UNLABELLED = 200  # redirects without a traceparent: the gateway decides, keeping ~5%
LABELLED = 15  # redirects arriving with a decision each way


def _spans(telemetry: Path) -> dict[str, list[dict[str, str | None]]]:
    """Each process's exported spans: trace id, parent id, name."""
    found: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for path in telemetry.glob("*.spans.jsonl"):
        for line in path.read_text().splitlines():
            span = json.loads(line)
            found[path.name.split(".")[0]].append(
                {"trace": span["context"]["trace_id"][2:], "parent": span["parent_id"], "name": span["name"]}
            )
    return found


def test_a_request_sampled_out_at_the_gateway_costs_no_span_downstream(tmp_path: Path) -> None:
    # spans exported every 0.2 s instead of 5 s; the processes flush the rest when they stop
    env = {**SAMPLING["production"], "OTEL_BSP_SCHEDULE_DELAY": "200"}
    kept, dropped = [uuid.uuid4().hex for _ in range(LABELLED)], [uuid.uuid4().hex for _ in range(LABELLED)]
    with bench_system(tmp_path, env=env) as system:
        _module, scenario = discover()["conversion.redirect"]
        code = run_setup(scenario, system.ctx)["code"]
        with httpx.Client(base_url=system.ctx.gateway_url, timeout=30) as gateway:
            for trace_id in kept + dropped:
                flags = "01" if trace_id in kept else "00"
                headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-{flags}"}
                assert gateway.get(f"/r/{code}", headers=headers).status_code == 302
            for _ in range(UNLABELLED):
                assert gateway.get(f"/r/{code}").status_code == 302
        telemetry = system.stack.config.var_dir / "telemetry"
    spans = _spans(telemetry)

    traces_of = {process: {s["trace"] for s in found} for process, found in spans.items()}
    # a decision received is followed by every process: kept ones reach conversion's click consumer
    assert set(kept) <= traces_of["gateway"] and set(kept) <= traces_of["conversion"]
    assert not set(dropped) & set().union(*traces_of.values())

    # the gateway's own decisions: about 5% of the unlabelled redirects kept (10 expected of 200)
    redirects = {s["trace"] for s in spans["gateway"] if s["name"] == "GET /r/{code}"} - set(kept)
    assert 1 <= len(redirects) <= 40, len(redirects)
    # and no process holds a span of a trace whose root span no process kept (the labelled traces'
    # roots are the callers', outside the system: left out)
    rooted = {s["trace"] for found in spans.values() for s in found if s["parent"] is None} | set(kept)
    orphans = {p: {s["name"] for s in found if s["trace"] not in rooted} for p, found in spans.items()}
    assert not any(orphans.values()), orphans


def test_the_modes_and_the_sampled_rows() -> None:
    assert parse_modes("all,production,all") == ["all", "production"]
    with pytest.raises(ValueError):
        parse_modes("some")
    assert SAMPLING["production"]["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    first = {"name": "conversion.redirect", "load": "wrk", "throughput_rps": 400.0, "cpu_ms_per_request": 4.0}
    again = {
        **first,
        "throughput_rps": 500.0,
        "cpu_ms_per_request": 3.2,
        "p50_ms": 20.0,
        "p99_ms": 90.0,
        "errors": 0,
        "cpu_ms_per_request_by_process": {"gateway": 1.5, "conversion": 1.7},
    }
    row = sampled_row(again, "production", first)
    assert row["trace_sampling"] == "production"
    assert row["vs_first"] == {"throughput": 1.25, "cpu_per_request": 0.8}
    text = "\n".join(sampling_markdown([row], "all"))
    assert "against the first run: every trace kept (parentbased_always_on)" in text
    assert "| conversion.redirect | production | wrk | 500 | 20 | 90 | 3.2 | 1.5 | 1.25 | 0.8 | 0 |" in text
