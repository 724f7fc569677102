"""Trace sampling of the system under the bench: every trace kept, or production's sampling.

`make bench` has always kept every trace (each process exports a span per hop of every request), so
its figures carry the full cost of tracing. Production samples whole traces with the standard
OpenTelemetry variables (docs/operations.md, "Traces"): the gateway keeps 5% of the traces it
starts, and every process follows the decision it receives in `traceparent` (parent-based), so a
request sampled out costs no span anywhere. `--trace-sampling all,production` runs the chosen hot
paths again on a system started with production's sampling and reports them beside the first run.
The sampler is always set explicitly, so a variable left in the caller's environment cannot change
what a run measures.
"""

from __future__ import annotations

from typing import Any

PRODUCTION_RATIO = 0.05
SAMPLING: dict[str, dict[str, str]] = {
    # the SDK's default, stated: a trace started here is kept, a received decision followed
    "all": {"OTEL_TRACES_SAMPLER": "parentbased_always_on", "OTEL_TRACES_SAMPLER_ARG": ""},
    "production": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(PRODUCTION_RATIO),
    },
}
DESCRIBED = {
    "all": "every trace kept (parentbased_always_on)",
    "production": f"production sampling (parentbased_traceidratio {PRODUCTION_RATIO:g}: "
    f"{PRODUCTION_RATIO:.0%} of the traces the gateway starts)",
}


def parse_modes(value: str) -> list[str]:
    """`all`, `production` or both, comma-separated; the first runs every chosen scenario."""
    modes = list(dict.fromkeys(m for m in value.split(",") if m))
    unknown = [m for m in modes if m not in SAMPLING]
    if not modes or unknown:
        raise ValueError(f"trace sampling {value!r}: choose from {', '.join(SAMPLING)}")
    return modes


def described(mode: str) -> dict[str, str]:
    """What the results file says about a run's sampling."""
    return {"mode": mode, "description": DESCRIBED[mode], **SAMPLING[mode]}


def sampled_row(result: dict[str, Any], mode: str, first: dict[str, Any] | None) -> dict[str, Any]:
    """A scenario measured again under another sampling, against the first run's figures."""

    def versus(key: str) -> float | None:
        return round(result[key] / first[key], 3) if first and first.get(key) else None

    return {
        **result,
        "trace_sampling": mode,
        "vs_first": {"throughput": versus("throughput_rps"), "cpu_per_request": versus("cpu_ms_per_request")},
    }


def sampling_markdown(rows: list[dict[str, Any]], first_mode: str) -> list[str]:
    """The table of the scenarios measured again under another sampling."""
    lines = [
        "",
        f"trace sampling, against the first run: {DESCRIBED[first_mode]}",
        "| scenario | trace sampling | load | req/s | p50 ms | p99 ms | CPU ms/req | gateway CPU ms/req "
        "| req/s vs first | CPU vs first | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        vs = {key: "-" if value is None else f"{value:g}" for key, value in r["vs_first"].items()}
        gateway = r["cpu_ms_per_request_by_process"].get("gateway", "-")
        lines.append(
            f"| {r['name']} | {r['trace_sampling']} | {r['load']} | {r['throughput_rps']:g} "
            f"| {r['p50_ms']:g} | {r['p99_ms']:g} | {r['cpu_ms_per_request']:g} | {gateway} "
            f"| {vs['throughput']} | {vs['cpu_per_request']} | {r['errors']} |"
        )
    return lines
