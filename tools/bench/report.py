"""Ratios to the baselines, the results file and the markdown table."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.bench.sampling import sampling_markdown
from tools.bench.soak import soak_markdown

RATIO_OF = {"throughput": "throughput_rps", "p50": "p50_ms", "cpu_per_request": "cpu_ms_per_request"}


def ratios(
    result: dict[str, Any], baselines: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float | None]]:
    """result / baseline for throughput, p50 and CPU per request, against each baseline."""
    out: dict[str, dict[str, float | None]] = {}
    for name, base in baselines.items():
        out[name] = {
            ratio: (round(result[key] / base[key], 3) if base[key] else None)
            for ratio, key in RATIO_OF.items()
        }
    return out


def with_ratios(
    results: list[dict[str, Any]], baselines: dict[str, dict[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each result with its ratios to the baselines measured by the same load generator."""
    return [{**r, "ratios": ratios(r, baselines[r["load"]])} for r in results]


def write_results(
    path: Path,
    *,
    options: dict[str, Any],
    baselines: dict[str, dict[str, dict[str, Any]]],
    scenarios: list[dict[str, Any]],
    journey: dict[str, Any] | None = None,
    extras: list[dict[str, Any]] | None = None,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "options": options,
        "baselines": {load: with_ratios(list(b.values()), baselines) for load, b in baselines.items()},
        "scenarios": with_ratios(scenarios, baselines),
        "journey": journey,
        "extras": with_extra_ratios(extras or [], scenarios),
        **(more or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document


def with_extra_ratios(extras: list[dict[str, Any]], scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scenarios compared with the in-process baselines: redemptions with a single-insert
    transaction, behaviour events with acknowledged JetStream publishes."""
    rates = {e["name"]: e.get("tx_per_s") or e.get("msgs_per_s") for e in extras}
    compared = []
    for s in scenarios:
        if s["name"].startswith("benefits.") and rates.get("baseline.sqlmodel_insert"):
            compared.append(
                (s["name"], "vs sqlmodel insert", s["throughput_rps"] / rates["baseline.sqlmodel_insert"])
            )
        if s["name"].startswith("reach.events") and rates.get("baseline.jetstream_publish"):
            per_event = s["throughput_rps"] * 10  # ten events per request
            compared.append(
                (s["name"], "events vs jetstream publish", per_event / rates["baseline.jetstream_publish"])
            )
        api = next((a for a in scenarios if a["name"] == f"{s['name']}_api" and a["load"] == s["load"]), None)
        if s["name"].startswith("console.") and api and api["throughput_rps"]:
            # issue 13: a page renders in under 300 ms p50 at >= 0.5x its API call's requests/s
            compared.append(
                (s["name"], "req/s vs its API call (bar 0.5)", s["throughput_rps"] / api["throughput_rps"])
            )
            compared.append((s["name"], "p50 ms (bar 300)", s["p50_ms"]))
    ratios = [{"name": n, "ratio": what, "value": round(v, 3)} for n, what, v in compared]
    return [*extras, *([{"name": "ratios", "items": ratios}] if ratios else [])]


def scaling_row(
    result: dict[str, Any], workers: int, edge_store: str, first: dict[str, Any] | None
) -> dict[str, Any]:
    """A scenario at a gateway worker count and edge store: req/s, per worker, and against the first
    run's req/s."""
    rps = result["throughput_rps"]
    return {
        "name": result["name"],
        "load": result["load"],
        "workers": workers,
        "edge_store": edge_store,
        "throughput_rps": rps,
        "per_worker_rps": round(rps / workers, 1),
        "p50_ms": result["p50_ms"],
        "cpu_ms_per_request_by_process": result["cpu_ms_per_request_by_process"],
        "vs_first": round(rps / first["throughput_rps"], 3) if first and first["throughput_rps"] else None,
        "requests": result["requests"],
        "errors": result["errors"],
        "error_samples": result.get("error_samples", [])[:3],
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _drain_cell(result: dict[str, Any]) -> str:
    """Seconds from the end of the load until the system was idle ("!" when the wait hit its bound)."""
    if "drain_s" not in result:
        return "-"
    bound = "" if result["drained_idle"] else f"! ({result['drain_backlog_left']} left)"
    return f"{result['drain_s']:g}{bound}"


def markdown(document: dict[str, Any]) -> str:
    """One table row per baseline and scenario."""
    head = (
        "| scenario | load | req/s | p50 ms | p90 ms | p99 ms | CPU ms/req | req/s vs bare | vs grpc "
        "| p50 vs bare | vs grpc | CPU vs bare | vs grpc | errors | CPU ms/req at load end | drain s |"
    )
    sampling = document.get("trace_sampling")
    lines = [f"trace sampling of the system: {sampling['description']}"] if sampling else []
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    rows = [r for b in document["baselines"].values() for r in b] + document["scenarios"]
    for r in rows:
        q = r["ratios"]
        lines.append(
            f"| {r['name']} | {r['load']} | {r['throughput_rps']:g} | {r['p50_ms']:g} | {r['p90_ms']:g} "
            f"| {r['p99_ms']:g} | {r['cpu_ms_per_request']:g} "
            f"| {_fmt(q['bare']['throughput'])} | {_fmt(q['grpc']['throughput'])} "
            f"| {_fmt(q['bare']['p50'])} | {_fmt(q['grpc']['p50'])} "
            f"| {_fmt(q['bare']['cpu_per_request'])} | {_fmt(q['grpc']['cpu_per_request'])} | {r['errors']} "
            f"| {_fmt(r.get('cpu_ms_per_request_at_load_end'))} | {_drain_cell(r)} |"
        )
    journey = document.get("journey")
    if journey:
        lines.append("")
        lines.append(
            f"journey: {journey['journeys']} journeys at concurrency {journey['concurrency']}: "
            f"{journey['steps_per_s']} steps/s, journey p50 {journey['journey_p50_ms']} ms, "
            f"click -> signed postback p50 {journey['click_to_postback_p50_ms']} ms "
            f"(max {journey['click_to_postback_max_ms']} ms)"
        )
    if document.get("scaling"):
        lines += [
            "",
            "| scenario | gateway workers | edge state | req/s | req/s per worker | vs first run | p50 ms "
            "| CPU ms/req gateway | all | errors |",
        ]
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in document["scaling"]:
            cpu = r["cpu_ms_per_request_by_process"]
            lines.append(
                f"| {r['name']} | {r['workers']} | {r['edge_store']} | {r['throughput_rps']:g} "
                f"| {r['per_worker_rps']:g} | {_fmt(r['vs_first'])} | {r['p50_ms']:g} "
                f"| {_fmt(cpu.get('gateway'))} | {sum(cpu.values()):.4g} | {r['errors']} |"
            )
    if document.get("sampled"):
        lines += sampling_markdown(document["sampled"], sampling["mode"] if sampling else "all")
    if document.get("soak"):
        lines += ["", soak_markdown(document["soak"])]
    for extra in document.get("extras") or []:
        if extra["name"] == "ratios":
            for r in extra["items"]:
                lines.append(f"{r['name']} {r['ratio']}: {r['value']}")
        else:
            lines.append(", ".join(f"{k}={v}" for k, v in extra.items()))
    return "\n".join(lines)
