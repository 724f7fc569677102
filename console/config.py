"""Console settings from the environment (prefix CONSOLE_; GATEWAY_URL is shared with the tools)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Where the console listens, which gateway it calls and how long a sign-in lasts."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    # where the console listens
    host: str = "127.0.0.1"
    # the console's port
    port: int = Field(default=8090, ge=0, le=65535)
    # the gateway the console calls (the operator API)
    gateway_url: str = Field(
        default="http://127.0.0.1:8080", validation_alias=AliasChoices("CONSOLE_GATEWAY_URL", "GATEWAY_URL")
    )
    # a console sign-in ends after this long without a request
    idle_timeout_s: float = Field(default=30 * 60, gt=0)
    # a console sign-in ends this long after it started, whatever the activity
    absolute_timeout_s: float = Field(default=8 * 60 * 60, gt=0)
    # "auto": Secure cookie when the request arrived over TLS (directly or via a trusted proxy)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    # timeout of the console's calls to the gateway
    api_timeout_s: float = Field(default=10.0, gt=0)
    # the console's language when the browser asks for none it has
    default_language: Literal["zh-Hans", "en"] = "zh-Hans"
    # a trace collector's UI (Jaeger); without one, trace links open the console's own traces page
    jaeger_url: str = ""
    # spans go where the rest of the system's go (services/runtime/telemetry.py): OTLP when
    # OTEL_EXPORTER_OTLP_ENDPOINT is set, else VAR_DIR/telemetry/console.spans.jsonl
    var_dir: Path = Field(default=Path("var"), validation_alias=AliasChoices("CONSOLE_VAR_DIR", "VAR_DIR"))
    # level of the console's JSON logs
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("CONSOLE_LOG_LEVEL", "LOG_LEVEL"))
    max_sessions: int = Field(default=10_000, ge=1)  # per process, with the in-memory store
    # sessions shared by every console replica; empty: in this process's memory (one replica)
    redis_url: str = Field(default="", validation_alias=AliasChoices("CONSOLE_REDIS_URL", "REDIS_URL"))
