"""Settings shared by every process, read from the environment (and `.env`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("identity", "benefits", "content", "reach", "conversion")


# A process serving more than one API is asked for the first it registers (it registers all at once).
_FIRST_API = {"identity": "lattice.identity.v1.RegistryService"}


def grpc_service_name(service: str) -> str:
    """The full name of a Lattice service's gRPC API, as its health service reports it."""
    return _FIRST_API.get(service, f"lattice.{service}.v1.{service.capitalize()}Service")


DEFAULT_ADDRS = {
    "identity": "127.0.0.1:50051",
    "benefits": "127.0.0.1:50052",
    "content": "127.0.0.1:50053",
    "reach": "127.0.0.1:50054",
    "conversion": "127.0.0.1:50055",
}

_PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "dev-only-secret"}


class Settings(BaseSettings):
    """Settings every Lattice process understands.

    Each service listens on the port of its own `<SERVICE>_ADDR`, so one variable tells both the
    service and its callers where it is.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `production` refuses placeholder secrets and demo credentials; `test` for the test suite
    environment: Literal["development", "test", "production"] = "development"
    # SQLite files, NATS store, logs and local telemetry
    var_dir: Path = Path("var")
    # NATS with JetStream; setting it makes `make run` use that server instead of its own
    nats_url: str = "nats://127.0.0.1:14222"
    # 3 on a 3-node JetStream cluster (every stream replicated); 1 on a single server.
    nats_stream_replicas: int = 1
    # A URL template for every service's database; "{service}" is replaced by the service name.
    # Empty means SQLite files under var_dir. `<SERVICE>_DATABASE_URL` overrides it per service.
    database_url: str = ""
    # where services listen for gRPC: `0.0.0.0` in containers
    grpc_listen_host: str = "127.0.0.1"
    # The service CA and every process identity's certificate (mutual TLS); default <VAR_DIR>/pki.
    pki_dir: Path | None = None
    # A replica's own port when several replicas of a service run on one host; callers then use
    # `<SERVICE>_ADDR=ipv4:127.0.0.1:p1,127.0.0.1:p2` and balance over them (round robin).
    grpc_port_override: int | None = None
    identity_addr: str = DEFAULT_ADDRS["identity"]
    benefits_addr: str = DEFAULT_ADDRS["benefits"]
    content_addr: str = DEFAULT_ADDRS["content"]
    reach_addr: str = DEFAULT_ADDRS["reach"]
    conversion_addr: str = DEFAULT_ADDRS["conversion"]
    # default deadline of a gRPC call (never later than the caller's own)
    rpc_timeout_s: float = 5.0
    # publish this process's outbox to JetStream (off only in tests of the relay)
    outbox_relay_enabled: bool = True
    # outbox relay poll (it is also woken after each write)
    outbox_poll_interval_s: float = 0.5
    # attempts before a consumed message is dead-lettered to `dlq.<consumer>.<subject>`
    consumer_max_deliver: int = 5
    # seconds a consumer may work on a message before JetStream redelivers it
    consumer_ack_wait_s: float = 30.0
    # Retention of bookkeeping rows (see services/runtime/retention.py); business history is kept.
    retention_interval_s: float = 3600.0
    # days published outbox events are kept
    outbox_retention_days: float = 7.0
    # days consumers' processed-message records are kept (duplicates older than this are not recognised)
    processed_retention_days: float = 30.0
    # days an idempotent operation's result is kept (run_once); the same key later runs it again
    operation_retention_days: float = 30.0
    # Keyed hashes of personal data (phone numbers) and pairwise ids use this pepper.
    pepper: str = "dev-only-secret"
    # level of the JSON logs every process writes to stderr (`var/logs/<process>.log` under `make run`)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.pepper in _PLACEHOLDER_SECRETS:
            raise ValueError("PEPPER must be set to a real secret in production")
        return self

    @property
    def pki_path(self) -> Path:
        """Where the service CA and the certificates are; created there on first start unless production."""
        return self.pki_dir or self.var_dir / "pki"

    def addr(self, service: str) -> str:
        """host:port of a service."""
        return str(getattr(self, f"{service}_addr"))

    def grpc_port(self, service: str) -> int:
        """The port this process listens on: GRPC_PORT_OVERRIDE, else the first port of its address."""
        if self.grpc_port_override:
            return self.grpc_port_override
        first = self.addr(service).removeprefix("ipv4:").split(",")[0]
        return int(first.rsplit(":", 1)[1])

    def database_url_for(self, service: str) -> str:
        """The database of one service: per-service URL, else the template, else SQLite under var/."""
        explicit = os.environ.get(f"{service.upper()}_DATABASE_URL")
        if explicit:
            return explicit
        if self.database_url:
            return self.database_url.replace("{service}", service)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / f'{service}.db').resolve()}"
