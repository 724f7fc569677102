"""The business dashboard and alert rules of the compose deployment query only metrics and labels
that the services emit, through the provisioned data source, and Prometheus loads the rules."""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "infra/grafana/dashboards/lattice-business.json"
RULES_DIR = ROOT / "infra/grafana/alerts"
SERVICES = ("benefits", "reach", "conversion")


def _families() -> dict[str, str]:
    """Prometheus family -> the source file that emits it (gauges keep their name, counters get _total)."""
    families = {}
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.business_metrics")
        for measure in module.MEASURES:
            name = measure.name.replace(".", "_") + ("_total" if measure.monotonic else "")
            families[name] = f"services/{service}/business_metrics.py"
    families["lattice_messaging_dead_letters_total"] = "services/runtime/bus.py"
    families["messaging_consumer_lag"] = "services/runtime/bus.py"
    return families


def _exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for rules in RULES_DIR.glob("*.rules.yml"):
        exprs += [r["expr"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]]
    return exprs


def test_every_queried_metric_is_emitted_with_the_labels_queried() -> None:
    families = _families()
    used = set()
    for expr in _exprs():
        names = set(re.findall(r"\b(lattice_[a-z_]+|messaging_[a-z_]+)\b", expr))
        metrics = {n for n in names if n in families or n.startswith("lattice_")}
        assert metrics, expr
        assert metrics <= set(families), f"not emitted: {metrics - set(families)}"
        used |= metrics
        sources = " ".join((ROOT / families[m]).read_text() for m in metrics)
        labels = set(re.findall(r"by \(([^)]*)\)", expr))
        labels = {label.strip() for group in labels for label in group.split(",")}
        labels |= set(re.findall(r"\{(\w+)=", expr))
        for label in labels:
            attribute = label.replace("messaging_consumer_group_name", "messaging.consumer.group.name")
            assert f'"{attribute}"' in sources, f"{label} is not an attribute of {metrics}"
    # every business metric is on the dashboard or in an alert
    assert set(families) - {"messaging_consumer_lag"} <= used


def test_dashboard_panels_use_the_provisioned_prometheus() -> None:
    datasources = yaml.safe_load(
        (ROOT / "infra/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    uid = datasources["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "lattice-business" and dashboard["timezone"] == "Asia/Shanghai"
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == uid
    red = json.loads((ROOT / "infra/grafana/dashboards/lattice-red.json").read_text())
    assert red["uid"] != dashboard["uid"]


def test_alert_rules_are_complete_and_loaded_by_prometheus() -> None:
    rules = [
        r
        for f in RULES_DIR.glob("*.rules.yml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
    ]
    assert {r["alert"] for r in rules} >= {
        "DeadLettersAppeared",
        "BenefitBudgetExhausted",
        "PostbacksDeadLettered",
    }
    for rule in rules:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"])
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
    prometheus = yaml.safe_load((ROOT / "infra/grafana/prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = dict(
        v.rsplit(":", 1)[0].split(":", 1)
        for v in compose["services"]["prometheus"]["volumes"]
        if v.startswith("./")
    )
    inside = {Path(target) / f.name for source, target in mounts.items() for f in (ROOT / source).glob("*")
              if (ROOT / source).is_dir()}  # fmt: skip
    for pattern in prometheus["rule_files"]:
        matched = [p for p in inside if fnmatch.fnmatch(str(p), pattern)]
        assert {p.name for p in matched} == {f.name for f in RULES_DIR.glob("*.rules.yml")}
