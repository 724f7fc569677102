"""Business metrics read each service's own database and equal what the operator API answers."""

from __future__ import annotations

import importlib

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.runtime.bus import Bus, Delivery
from services.runtime.business_metrics import register
from services.runtime.db import make_engine
from tools.actors import operator_headers
from tools.stack import Stack

NAMES = {
    "benefits": {
        "lattice.benefits.budget.remaining",
        "lattice.benefits.redemptions",
        "lattice.benefits.redeemed.amount",
    },
    "reach": {"lattice.reach.deliveries", "lattice.reach.provider.deliveries"},
    "conversion": {"lattice.conversion.postbacks", "lattice.conversion.postback.failures"},
}


def _collect(stack: Stack, service: str) -> dict[str, list[tuple[int, dict]]]:
    module = importlib.import_module(f"services.{service}.business_metrics")
    engine = make_engine(f"sqlite:///{(stack.config.var_dir / f'{service}.db').resolve()}")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        register(engine=engine, measures=module.MEASURES, meter=provider.get_meter("test"))
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
        engine.dispose()
    found: dict[str, list[tuple[int, dict]]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = [(p.value, dict(p.attributes)) for p in metric.data.data_points]
                found[metric.name] = points
    return found


def test_every_measure_is_collected_without_error(stack: Stack, caplog) -> None:
    for service, names in NAMES.items():
        # a measure with no rows yet (no redemption in the demo data) has no points, hence no metric
        assert set(_collect(stack, service)) <= names, service
    assert "not collected" not in caplog.text
    assert "lattice.benefits.budget.remaining" in _collect(stack, "benefits")


def test_budget_remaining_equals_the_catalogue(stack: Stack, gateway: httpx.Client) -> None:
    viewer = operator_headers(gateway, "hq-viewer")
    catalogue = gateway.get("/v1/ops/benefits", headers=viewer).json()["items"]
    live = {
        b["benefit_id"]: b["budget_remaining"] for b in catalogue if b["status"] in ("approved", "paused")
    }
    assert live, "the demo data has live benefits"
    points = _collect(stack, "benefits")["lattice.benefits.budget.remaining"]
    assert {attrs["benefit_id"]: value for value, attrs in points} == live


def test_postbacks_by_status_equal_the_deliveries_list(stack: Stack, gateway: httpx.Client) -> None:
    admin = operator_headers(gateway, "hq-admin")
    resp = gateway.get("/v1/ops/conversion/postbacks", params={"page_size": 100}, headers=admin)
    assert resp.status_code == 200, resp.text
    listed = resp.json()["items"]
    counts: dict[tuple[str, str], int] = {}
    for d in listed:
        counts[(d["partner_id"], d["status"])] = counts.get((d["partner_id"], d["status"]), 0) + 1
    points = _collect(stack, "conversion").get("lattice.conversion.postbacks", [])
    assert {(a["partner_id"], a["status"]): v for v, a in points} == counts


async def test_a_dead_letter_is_counted_per_consumer(stack: Stack) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    bus = await Bus.connect(stack.config.nats_url, name="metrics-test")
    bus._dead_letters = provider.get_meter("test").create_counter("lattice.messaging.dead_letters")
    try:
        delivery = Delivery(
            subject="reach.metricstest.poison", data=b"x", event_id="e-1", event_type="t", num_delivered=5
        )
        await bus._dead_letter(delivery, "metricstest-consumer", RuntimeError("no"))
        [metric] = [
            m for r in reader.get_metrics_data().resource_metrics for s in r.scope_metrics for m in s.metrics
        ]
        [point] = metric.data.data_points
        assert point.value == 1
        assert point.attributes["messaging.consumer.group.name"] == "metricstest-consumer"
    finally:
        await bus.close()
        provider.shutdown()
