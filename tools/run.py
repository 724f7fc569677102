"""`make run`: NATS with JetStream, the five services, the gateway and the console on this machine.

Data lives under var/ and survives restarts. NATS_URL (or <SERVICE>_DATABASE_URL / DATABASE_URL)
point the processes at external servers instead of the embedded ones. Ctrl-C stops everything.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
import time
from pathlib import Path

from gateway.core_banking import DEMO_KEY_ID, DEMO_SECRET, DEMO_SYSTEM_ID
from services.identity.demo_data import (
    DEMO_APP_SECRETS,
    DEMO_APPS,
    DEMO_OPERATOR_SECRETS,
    DEMO_OPERATORS,
    DEMO_PARTNERS,
)
from services.runtime.config import SERVICES, Settings
from tools.demo_data import load
from tools.stack import Stack, StackConfig

DEMO_ALLOWLIST = '["127.0.0.1:18099"]'


def gateway_workers() -> int:
    """WORKERS when set; with Redis one worker per core (up to 4), sharing their edge state there;
    else one process keeping its edge state in memory, which serves more than several processes
    sharing the SQLite file on this machine (docs/performance.md, "Workers")."""
    if os.environ.get("WORKERS"):
        return int(os.environ["WORKERS"])
    return min(os.cpu_count() or 1, 4) if os.environ.get("REDIS_URL") else 1


def main() -> int:
    settings = Settings()
    config = StackConfig(
        var_dir=Path(os.environ.get("VAR_DIR", "var")).resolve(),
        nats_port=int(os.environ.get("LATTICE_NATS_PORT", "14222")),
        gateway_port=int(os.environ.get("HTTP_PORT", "8080")),
        console_port=int(os.environ.get("CONSOLE_PORT", "8090")),
        service_ports={s: settings.grpc_port(s) for s in SERVICES},
        external_nats_url=os.environ.get("NATS_URL"),
        # the local partner receiver of `make demo` may receive postbacks (development only)
        extra_env={
            "CONVERSION_POSTBACK_ALLOWLIST": os.environ.get(
                "CONVERSION_POSTBACK_ALLOWLIST", '["127.0.0.1:18099"]'
            )
        },
    )
    stack = Stack(config)
    started = time.monotonic()
    stopping = False

    def _stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    # Ctrl-C stops everything even when whoever started us ignored SIGINT (a child inherits SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print(f"Lattice: starting (data and logs under {config.var_dir})")
        stack.start_nats()
        print(f"  nats       {config.nats_url} (JetStream store {config.var_dir / 'nats'})")
        for service in SERVICES:
            stack.start_service(service)
        for service in SERVICES:
            stack.wait_service(service)
            print(f"  {service:<10} grpc://{config.addr(service)}")
        workers = gateway_workers()
        stack.start_gateway(env={"WORKERS": str(workers)})
        stack.wait_gateway()
        print(f"  gateway    {config.gateway_url} ({workers} worker process{'es' if workers > 1 else ''})")
        stack.start_console()
        stack.wait_console()
        print(f"  console    {config.console_url}")
        load({s: config.addr(s) for s in SERVICES}, pki_dir=config.pki_dir, say=print)
        print(f"Lattice is up in {time.monotonic() - started:.1f}s")
        print(f"  API        {config.gateway_url}/v1   docs {config.gateway_url}/docs")
        print(f"  readiness  {config.gateway_url}/readyz")
        print(f"  console    {config.console_url}  (operations workbench) signs in as the demo operators:")
        for operator_id, (role, branch) in DEMO_OPERATORS.items():
            scope = f"branch {branch}" if branch else "head office"
            print(f"    {operator_id:<12} {role:<9} {scope:<17} secret {DEMO_OPERATOR_SECRETS[operator_id]}")
        print_demo_credentials()
        print(f"  logs       {stack.log_dir}/<process>.log   traces {config.var_dir / 'telemetry'}")
        print(f"  pki        {config.pki_dir} (service CA and certificates; gRPC is mutual TLS)")
        print("Ctrl-C stops every process.")
        while not stopping:
            dead = [p.name for p in stack.processes.values() if not p.alive]
            if dead:
                print(f"process exited: {', '.join(dead)} (see {stack.log_dir})", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("Lattice: stopping")
        stack.stop()
        print("Lattice: stopped")
    return 0


def print_demo_credentials() -> None:
    """What the README's quickstart uses: every demo caller and its (development-only) credentials."""
    print("  demo apps (sign-in assertions are HS256 JWTs with the client secret; README, Quickstart):")
    for app_id in DEMO_APPS:
        print(f"    {app_id:<12} client secret {DEMO_APP_SECRETS[app_id]}")
    print("  demo partners (HMAC signing keys, base64; docs/partner-signing.md):")
    for partner_id, (_name, _sector, key_id, secret) in DEMO_PARTNERS.items():
        print(f"    {partner_id:<12} key id {key_id:<14} secret {base64.b64encode(secret).decode()}")
    print(f"  demo core banking system (docs/core-banking.md): {DEMO_SYSTEM_ID}")
    print(f"    key id {DEMO_KEY_ID}   secret {DEMO_SECRET}")


if __name__ == "__main__":
    sys.exit(main())
