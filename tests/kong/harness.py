"""Kong's side of the external plugin protocol, played against a real kong-pdk plugin server.

The server is started with the `start_cmd` of infra/kong/kong.env (paths moved to this checkout);
requests go over its Unix socket as MessagePack-RPC: StartInstance, HandleEvent, then one Step per
PDK call the plugin makes, until it answers "ret" (pass) or calls kong.response.exit (stop).
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgpack

ROOT = Path(__file__).resolve().parents[2]
KONG_ENV = ROOT / "infra" / "kong" / "kong.env"
TERMINAL = {"kong.response.exit", "kong.response.error"}


def kong_env() -> dict[str, str]:
    """The KEY=VALUE lines of infra/kong/kong.env."""
    pairs = (
        line.split("=", 1) for line in KONG_ENV.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    return {k.strip(): v.strip() for k, v in pairs}


def plugin_command(server: str, which: str, prefix: Path) -> list[str]:
    """kong.env's START_CMD or QUERY_CMD of one plugin server, pointed at this checkout."""
    cmd = kong_env()[f"KONG_PLUGINSERVER_{server.upper()}_{which}"]
    cmd = cmd.replace("/opt/lattice", str(ROOT)).replace("/usr/local/kong", str(prefix))
    argv = shlex.split(cmd)
    return [sys.executable if argv[0].endswith("python3") else argv[0], *argv[1:]]


def socket_path(server: str, prefix: Path) -> Path:
    return Path(
        kong_env()[f"KONG_PLUGINSERVER_{server.upper()}_SOCKET"].replace("/usr/local/kong", str(prefix))
    )


def plugin_info(server: str, prefix: Path) -> dict[str, Any]:
    """What Kong reads at start through query_cmd (`--dump`): name, phases, priority, schema."""
    out = subprocess.run(
        plugin_command(server, "QUERY_CMD", prefix), capture_output=True, check=True, timeout=30
    )
    return json.loads(out.stdout)[0]


def plugin_infos(servers: list[str] | tuple[str, ...], prefix: Path) -> dict[str, dict[str, Any]]:
    """plugin_info of each server, the `--dump` processes run side by side (each starts Python)."""
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        return dict(zip(servers, pool.map(lambda server: plugin_info(server, prefix), servers), strict=True))


def config_fields(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The `config` record's fields of a plugin schema."""
    return next(f["config"]["fields"] for f in info["Schema"]["fields"] if "config" in f)


def config_defaults(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: spec["default"] for field in fields for name, spec in field.items() if "default" in spec}


@dataclass
class ProxiedRequest:
    """The request Kong is proxying, and what the plugin did to it."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    upstream_headers: dict[str, str] = field(default_factory=dict)
    cleared: list[str] = field(default_factory=list)
    exit: tuple[int, Any, dict[str, str]] | None = None
    pdk_calls: list[str] = field(default_factory=list)

    def answer(self, method: str, args: list[Any]) -> tuple[str, Any]:
        """Kong's answer to one PDK call: (RPC method, data)."""
        parts = urlsplit(self.url)
        self.pdk_calls.append(method)
        if method == "kong.request.get_headers":
            return "plugin.StepMultiMap", {k.lower(): [v] for k, v in self.headers.items()}
        if method == "kong.request.get_header":
            return "plugin.Step", {k.lower(): v for k, v in self.headers.items()}.get(args[0].lower())
        simple = {
            "kong.request.get_method": self.method,
            "kong.request.get_raw_path": parts.path,
            "kong.request.get_path": parts.path,
            "kong.request.get_raw_query": parts.query,
            "kong.request.get_raw_body": self.body,
        }
        if method in simple:
            return "plugin.Step", simple[method]
        if method == "kong.service.request.set_headers":
            self.upstream_headers.update({k.lower(): str(v) for k, v in args[0].items()})
            return "plugin.Step", None
        if method == "kong.service.request.set_header":
            self.upstream_headers[args[0].lower()] = str(args[1])
            return "plugin.Step", None
        if method == "kong.service.request.clear_header":
            self.cleared.append(args[0].lower())
            return "plugin.Step", None
        if method.startswith("kong.log."):
            return "plugin.Step", None
        return "plugin.StepError", f"{method} is not available in this test"


class KongSide:
    """A connection to one plugin server, speaking as Kong does."""

    def __init__(self, path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(15)
        self._sock.connect(str(path))
        self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self._ids = itertools.count(1)

    def call(self, method: str, *args: Any) -> Any:
        msgid = next(self._ids)
        self._sock.sendall(msgpack.packb([0, msgid, method, list(args)], use_bin_type=True))
        while True:
            for message in self._unpacker:
                kind, reply_id, error, result = message
                assert (kind, reply_id) == (1, msgid), message
                if error:
                    raise RuntimeError(f"{method}: {error}")
                return result
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("plugin server closed the connection")
            self._unpacker.feed(chunk)

    def start_instance(self, name: str, config: dict[str, Any], *, schema: list[dict[str, Any]]) -> int:
        """Start a plugin instance with `config` completed by the schema's defaults, as Kong does."""
        filled = {**config_defaults(schema), **config}
        return int(self.call("plugin.StartInstance", {"Name": name, "Config": json.dumps(filled)})["Id"])

    def access(self, instance_id: int, request: ProxiedRequest) -> ProxiedRequest:
        """Run the access phase for one request, answering each PDK call, until ret or exit."""
        reply = self.call("plugin.HandleEvent", {"InstanceId": instance_id, "EventName": "access"})
        while reply["Data"] != "ret":
            data = reply["Data"]
            if data["Method"] in TERMINAL:
                status, body, headers = (list(data["Args"]) + [None, None])[:3]
                request.exit = (int(status), body, dict(headers or {}))
                return request
            rpc, result = request.answer(data["Method"], list(data.get("Args") or []))
            reply = self.call(rpc, {"EventId": reply["EventId"], "Data": result})
        return request

    def close(self) -> None:
        self._sock.close()


class PluginServer:
    """One plugin's dedicated server process, started as Kong's start_cmd would."""

    def __init__(
        self, server: str, prefix: Path, env: dict[str, str], *, info: dict[str, Any] | None = None
    ) -> None:
        """Start the process; wait_started() returns once its socket is there."""
        self.server = server
        self.info = info or plugin_info(server, prefix)
        self.name = self.info["Name"]
        self.prefix = prefix
        self.socket = socket_path(server, prefix)
        self.log = prefix / f"{server}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                plugin_command(server, "START_CMD", prefix),
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._started = time.monotonic()

    def wait_started(self, timeout: float = 20.0) -> None:
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > self._started + timeout:
                raise RuntimeError(f"{self.server} did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def connect(self) -> KongSide:
        return KongSide(self.socket)

    def start_instance(self, config: dict[str, Any]) -> int:
        kong = self.connect()
        try:
            return kong.start_instance(self.name, config, schema=config_fields(self.info))
        finally:
            kong.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
