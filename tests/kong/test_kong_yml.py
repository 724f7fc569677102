"""infra/kong/kong.yml against decK's JSON schema and each Lattice plugin's own config schema (--dump)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.kong.harness import ROOT, config_fields, kong_env, plugin_infos

KONG_YML = ROOT / "infra" / "kong" / "kong.yml"
DECK_SCHEMA = ROOT / "infra" / "kong" / "vendor" / "kong_json_schema.json"
TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "array": "array"}


def plugin_config_schema(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """A JSON schema for a plugin's `config` block from Kong's field list (types, bounds, enums)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in fields:
        for name, spec in field.items():
            prop: dict[str, Any] = {"type": TYPES[spec["type"]]}
            if "between" in spec:
                prop["minimum"], prop["maximum"] = spec["between"]
            if "one_of" in spec:
                prop["enum"] = spec["one_of"]
            properties[name] = prop
            if spec.get("required") and "default" not in spec:
                required.append(name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def all_plugins(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(document.get("plugins", []))
    for service in document.get("services", []):
        found += service.get("plugins", [])
        for route in service.get("routes", []):
            found += route.get("plugins", [])
    return found


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(KONG_YML.read_text())


@pytest.fixture(scope="module")
def lattice_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    prefix = tmp_path_factory.mktemp("dump")
    servers = kong_env()["KONG_PLUGINSERVER_NAMES"].split(",")
    infos = plugin_infos([server.strip() for server in servers], prefix).values()
    return {info["Name"]: plugin_config_schema(config_fields(info)) for info in infos}


def test_kong_yml_matches_decks_schema(document: dict[str, Any]) -> None:
    schema = json.loads(DECK_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(document)


def test_every_lattice_plugin_config_matches_the_plugins_schema(
    document: dict[str, Any], lattice_schemas: dict[str, dict[str, Any]]
) -> None:
    assert set(lattice_schemas) == {
        "lattice-partner-signature",
        "lattice-app-token",
        "lattice-operator-token",
    }
    used = [p for p in all_plugins(document) if p["name"].startswith("lattice-")]
    assert {p["name"] for p in used} == set(lattice_schemas)
    for plugin in used:
        jsonschema.Draft4Validator(lattice_schemas[plugin["name"]]).validate(plugin.get("config", {}))


def test_a_wrong_plugin_config_would_be_caught(lattice_schemas: dict[str, dict[str, Any]]) -> None:
    validator = jsonschema.Draft4Validator(lattice_schemas["lattice-operator-token"])
    assert not validator.is_valid({"min_role": "superuser"})
    assert not validator.is_valid({"min_rol": "viewer"})
    assert not jsonschema.Draft4Validator(lattice_schemas["lattice-partner-signature"]).is_valid(
        {"window_s": 5}
    )


def test_each_route_group_carries_its_plugin(document: dict[str, Any]) -> None:
    routes = {r["name"]: r for s in document["services"] for r in s["routes"]}
    expected = {
        "partner-api": "lattice-partner-signature",
        "app-api": "lattice-app-token",
        "ops-api": "lattice-operator-token",
    }
    for route, plugin in expected.items():
        assert [p["name"] for p in routes[route].get("plugins", [])] == [plugin]
    for public in ("app-sign-in", "ops-sign-in", "public"):
        assert not routes[public].get("plugins")


def test_plugin_servers_are_declared_for_every_lattice_plugin() -> None:
    env = kong_env()
    plugins = {p.strip() for p in env["KONG_PLUGINS"].split(",")}
    assert {"lattice-partner-signature", "lattice-app-token", "lattice-operator-token"} <= plugins
    for server in env["KONG_PLUGINSERVER_NAMES"].split(","):
        start = env[f"KONG_PLUGINSERVER_{server.strip().upper()}_START_CMD"]
        assert "--no-lua-style" in start and Path(start.split()[1]).name == f"{server.strip()}.py"
