"""Static validation of the compose deployment (no Docker engine runs here): docker-compose.yml, .env,
Kong's environment and declarative config, checked against the code and each other."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from console.config import ConsoleSettings
from gateway.config import GatewaySettings
from services.runtime.config import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
KONG_SCHEMA = ROOT / "infra" / "kong" / "vendor" / "kong_json_schema.json"
SECRETS = {
    "PEPPER",
    "POSTGRES_PASSWORD",
    "LATTICE_DB_PASSWORD",
    "KONG_SHARED_SECRET",
    "CORE_BANKING_KEYS",
    "PROVIDER_RECEIPT_SECRETS",
    "REDIS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
}
_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(value: object, env: dict[str, str], used: list[tuple[str, str]]) -> object:
    """Compose's ${VAR} interpolation over a parsed file; records (variable, operator) pairs."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, used) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, used) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op = match.group("op") or ""
        used.append((name, op))
        current = env.get(name)
        if op.endswith("?") and (current is None or (op == ":?" and current == "")):
            raise KeyError(f"{name}: {match.group('arg')}")
        if op.endswith("-") and (current is None or (op == ":-" and current == "")):
            return match.group("arg")
        if current is None:
            raise KeyError(f"{name} is neither in .env nor required with ${{{name}:?...}}")
        return current

    return _VAR.sub(one, value)


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return read_env_file(ROOT / ".env")


@pytest.fixture(scope="module")
def compose(dotenv: dict[str, str]) -> dict:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secrets = {name: f"test-{name.lower()}-value" for name in SECRETS}
    return interpolate(raw, {**dotenv, **secrets}, [])


def lattice_processes(compose: dict) -> dict[str, str]:
    """compose service -> the Python module it runs (`python -m <module>`)."""
    found = {}
    for name, svc in compose["services"].items():
        if svc.get("build", {}).get("dockerfile") == "infra/docker/Dockerfile" and name != "pki-init":
            python, flag, module = svc["command"]
            assert (python, flag) == ("python", "-m"), name
            found[name] = module
    return found


def container_ports(svc: dict) -> set[int]:
    ports = {int(p) for p in svc.get("expose", [])}
    ports |= {int(str(p).rsplit(":", 1)[-1]) for p in svc.get("ports", [])}
    return ports


def test_every_process_maps_to_a_module_of_the_code(compose: dict) -> None:
    processes = lattice_processes(compose)
    assert sorted(processes.values()) == sorted([*(f"services.{s}" for s in SERVICES), "gateway", "console"])
    for name, module in processes.items():
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file(), module
        assert module in (name, f"services.{name}"), f"compose service {name} runs {module}"


def test_service_ports_match_settings_exposure_and_healthchecks(compose, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout: the container's environment only
    for name, module in lattice_processes(compose).items():
        if module == "console":  # no service addresses: it calls the operator API only (test below)
            continue
        svc = compose["services"][name]
        for key, value in svc["environment"].items():
            monkeypatch.setenv(key, str(value))
        settings = (GatewaySettings if module == "gateway" else Settings)()
        assert settings.environment == "production"
        for peer in SERVICES:
            host, port = settings.addr(peer).rsplit(":", 1)
            assert host == peer and peer in compose["services"], settings.addr(peer)
            assert int(port) in container_ports(compose["services"][peer])
        probe = svc["healthcheck"]["test"]
        if module == "gateway":
            assert settings.http_host == "0.0.0.0" and settings.trust_kong_headers
            assert settings.http_port in container_ports(svc)
            assert probe[-2:] == ["http", f"http://127.0.0.1:{settings.http_port}/readyz"]
        else:
            port = settings.grpc_port(name)
            assert settings.grpc_listen_host == "0.0.0.0"
            assert container_ports(svc) == {port}
            assert probe[-2:] == ["grpc", f"127.0.0.1:{port}"]
            url = settings.database_url_for(name)
            assert urlsplit(url).hostname == "postgres" and url.endswith(f"/lattice_{name}")
        for key in svc["environment"]:
            monkeypatch.delenv(key)


def test_console_calls_the_api_through_kong_and_listens_where_its_healthcheck_looks(
    compose, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    svc = compose["services"]["console"]
    for key, value in svc["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = ConsoleSettings()
    assert urlsplit(settings.gateway_url).hostname == "kong" and settings.cookie_secure == "always"
    assert settings.host == "0.0.0.0" and settings.port in container_ports(svc)
    assert svc["healthcheck"]["test"][-2:] == ["http", f"http://127.0.0.1:{settings.port}/healthz"]
    assert not {"PKI_DIR", "DATABASE_URL", "IDENTITY_ADDR"} & set(svc["environment"]), "API client only"
    assert svc["depends_on"]["kong"]["condition"] == "service_healthy"


def test_healthcheck_script_and_modules_exist_in_the_image() -> None:
    dockerfile = (ROOT / "infra/docker/Dockerfile").read_text()
    copied = re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, flags=re.M)
    assert {"infra/docker", "services", "gateway", "console", "protos", "requirements.lock"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), source
    assert (ROOT / "infra/docker/healthcheck.py").is_file()


def test_depends_on_waits_for_health_where_there_is_a_healthcheck(compose: dict) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            wanted = "service_healthy" if "healthcheck" in services[dep] else "service_started"
            if dep == "pki-init":  # a one-shot job: its certificates must exist first
                wanted = "service_completed_successfully"
            assert spec["condition"] == wanted, f"{name} -> {dep}"
    for name in SERVICES:
        assert {"postgres", "nats"} <= set(services[name]["depends_on"])
    assert set(SERVICES) <= set(services["gateway"]["depends_on"])
    assert "gateway" in services["kong"]["depends_on"]


def test_every_grpc_process_has_the_service_pki(compose: dict) -> None:
    """Services, gateway and Kong's plugin servers read their certificates from pki-init's volume."""
    services = compose["services"]
    assert services["pki-init"]["command"] == ["python", "-m", "services.runtime.pki", "/pki"]
    assert services["pki-init"]["restart"] == "no"
    for name in [*SERVICES, "gateway", "kong"]:
        assert "pki:/pki:ro" in services[name]["volumes"], name
        assert services[name]["environment"]["PKI_DIR"] == "/pki", name
        assert services[name]["depends_on"]["pki-init"]["condition"] == "service_completed_successfully"
    for name in SERVICES:
        assert services[name]["healthcheck"]["test"][3:5] == ["--peer", name]


def test_secrets_are_required_and_never_defaulted(dotenv: dict[str, str]) -> None:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    used: list[tuple[str, str]] = []
    interpolate(raw, {**dotenv, **{s: "x" for s in SECRETS}}, used)
    secret_like = {n for n, _ in used if re.search(r"PASSWORD|SECRET|PEPPER|TOKEN|KEY", n)}
    assert secret_like == SECRETS
    assert {op for n, op in used if n in SECRETS} == {":?"}
    assert not SECRETS & set(dotenv)
    with pytest.raises(KeyError, match="PEPPER"):
        interpolate(raw, {**dotenv, **{s: "x" for s in SECRETS - {"PEPPER"}}}, [])


def test_dotenv_does_not_change_the_settings_of_local_runs(dotenv: dict[str, str]) -> None:
    fields = {f.upper() for f in GatewaySettings.model_fields} | {
        f"{s.upper()}_DATABASE_URL" for s in SERVICES
    }
    assert not fields & set(dotenv), "Settings read ./.env too: compose-only names there"


def test_every_bind_mount_exists_and_named_volumes_are_declared(compose: dict) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: {source}"
        for env_file in svc.get("env_file", []):
            assert (ROOT / env_file).is_file()


def test_postgres_creates_one_database_per_service(compose: dict) -> None:
    script = (ROOT / "infra/postgres/init/01-databases.sh").read_text()
    listed = re.search(r'^SERVICES="([^"]+)"$', script, flags=re.M)
    assert listed and listed.group(1).split() == list(SERVICES)
    assert 'db="lattice_${service}"' in script
    mounts = compose["services"]["postgres"]["volumes"]
    assert "./infra/postgres/init:/docker-entrypoint-initdb.d:ro" in mounts


def kong_env() -> dict[str, str]:
    return read_env_file(ROOT / "infra/kong/kong.env")


def lattice_plugins() -> list[str]:
    return [p for p in kong_env()["KONG_PLUGINS"].split(",") if p != "bundled"]


def local_command(command: str, prefix: Path) -> list[str]:
    """A plugin server command of kong.env, with the image's paths mapped to this checkout."""
    mapped = command.replace("/usr/bin/python3", sys.executable).replace("/opt/lattice", str(ROOT))
    return mapped.replace("/usr/local/kong", str(prefix)).split()


def test_kong_runs_db_less_with_one_plugin_server_per_python_plugin() -> None:
    env = kong_env()
    assert env["KONG_DATABASE"] == "off"
    assert env["KONG_DECLARATIVE_CONFIG"] == "/opt/lattice/infra/kong/kong.yml"
    servers = env["KONG_PLUGINSERVER_NAMES"].split(",")
    assert servers == [p.replace("-", "_") for p in lattice_plugins()] and servers
    for server in servers:
        prefix = f"KONG_PLUGINSERVER_{server.upper()}"
        script = f"/opt/lattice/infra/kong/plugins/{server}.py"
        assert env[f"{prefix}_SOCKET"] == f"/usr/local/kong/{server}.socket"
        assert env[f"{prefix}_START_CMD"] == (
            f"/usr/bin/python3 {script} --no-lua-style -kong-prefix /usr/local/kong"
            f" --socket-name {server}.socket"
        )
        assert env[f"{prefix}_QUERY_CMD"] == f"/usr/bin/python3 {script} --dump"
    assert "KONG_SHARED_SECRET" in env["KONG_NGINX_MAIN_ENV"]


@pytest.mark.parametrize("plugin", lattice_plugins())
def test_kong_plugin_servers_answer_queries_and_listen_where_kong_looks(plugin: str, tmp_path: Path) -> None:
    env = kong_env()
    prefix = f"KONG_PLUGINSERVER_{plugin.replace('-', '_').upper()}"
    query = local_command(env[f"{prefix}_QUERY_CMD"], tmp_path)
    assert Path(query[1]).is_file(), f"{query[1]} (the QUERY_CMD of kong.env) does not exist"
    dumped = subprocess.run(query, capture_output=True, timeout=60, cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr.decode()
    assert [p["Name"] for p in json.loads(dumped.stdout)] == [plugin]
    socket = Path(env[f"{prefix}_SOCKET"].replace("/usr/local/kong", str(tmp_path)))
    server = subprocess.Popen(local_command(env[f"{prefix}_START_CMD"], tmp_path), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert socket.exists(), f"the plugin server did not listen on {socket}"
    finally:
        server.terminate()
        server.wait(10)


def kong_config_problems(config: dict, compose: dict) -> list[str]:
    """Why a declarative Kong config does not fit this deployment ([] when it does)."""
    schema = jsonschema.Draft4Validator(json.loads(KONG_SCHEMA.read_text()))
    problems = [f"schema: {e.message}" for e in schema.iter_errors(config)]
    upstreams = {u["name"]: [t["target"] for t in u.get("targets", [])] for u in config.get("upstreams", [])}
    targets = []
    for service in config.get("services", []):
        parts = urlsplit(service["url"]) if "url" in service else None
        host = parts.hostname if parts else service.get("host")
        port = (parts.port if parts else service.get("port")) or 80
        targets += upstreams.get(host, [f"{host}:{port}"])
    if not targets:
        problems.append("routes to no service")
    for target in targets:
        host, _, port = target.rpartition(":")
        if host not in compose["services"] or int(port) not in container_ports(compose["services"][host]):
            problems.append(f"{target} is no port of a compose service")
    services = config.get("services", [])
    named = {p["name"] for p in config.get("plugins", [])}
    named |= {p["name"] for s in services for p in s.get("plugins", [])}
    named |= {p["name"] for s in services for r in s.get("routes", []) for p in r.get("plugins", [])}
    problems += [f"plugin {p} is never enabled" for p in sorted(set(lattice_plugins()) - named)]
    return problems


def test_kong_yml_validates_and_points_at_compose_services(compose: dict) -> None:
    path = ROOT / "infra/kong/kong.yml"
    assert path.is_file(), "infra/kong/kong.yml (KONG_DECLARATIVE_CONFIG) is missing"
    assert kong_config_problems(yaml.safe_load(path.read_text()), compose) == []


def test_kong_config_check_catches_a_wrong_upstream_and_a_missing_plugin(compose: dict) -> None:
    plugins = [{"name": p} for p in lattice_plugins()]
    good = {
        "_format_version": "3.0",
        "services": [
            {
                "name": "api",
                "url": "http://gateway:8080",
                "plugins": plugins,
                "routes": [{"name": "v1", "paths": ["/v1"]}],
            }
        ],
    }
    assert kong_config_problems(good, compose) == []
    wrong_port = {**good, "services": [{**good["services"][0], "url": "http://gateway:9999"}]}
    assert kong_config_problems(wrong_port, compose) == ["gateway:9999 is no port of a compose service"]
    unknown_key = {**good, "services": [{**good["services"][0], "plugins": plugins[1:], "colour": "red"}]}
    problems = kong_config_problems(unknown_key, compose)
    assert (
        any(p.startswith("schema:") for p in problems)
        and f"plugin {lattice_plugins()[0]} is never enabled" in problems
    )


def test_otlp_endpoint_reaches_the_collector(compose: dict) -> None:
    collector = yaml.safe_load((ROOT / "infra/otel/collector.yaml").read_text())
    grpc_port = int(collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[1])
    for name in lattice_processes(compose):
        if name == "console":  # no spans of its own: each page links the traces the gateway answers
            continue
        endpoint = urlsplit(compose["services"][name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector" and endpoint.port == grpc_port
    assert grpc_port in container_ports(compose["services"]["otel-collector"])


def test_the_gateway_honours_forwarding_headers_from_kong_only(compose: dict) -> None:
    services = compose["services"]
    kong = services["kong"]["networks"]["default"]["ipv4_address"]
    assert services["gateway"]["environment"]["FORWARDED_ALLOW_IPS"] == kong
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(kong) in ipaddress.ip_network(subnet)
