"""Settings of the conversion service (environment variables prefixed CONVERSION_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class ConversionSettings(BaseSettings):
    """Attribution, funnel, link, flood-guard and postback settings."""

    model_config = SettingsConfigDict(env_prefix="CONVERSION_", env_file=".env", extra="ignore")

    safe_landing_url: str = "https://www.bank.example/"
    default_lookback_days: int = 7
    default_window_days: int = 14
    link_default_ttl_days: int = 30
    link_max_ttl_days: int = 365
    key_overlap_days: int = 30
    # A returning customer counts as re-engaged only after this many days without activity.
    inactivity_days: int = 30
    activation_event_types: list[str] = ["first_transaction"]
    upgrade_event_types: list[str] = ["aum_tier_upgraded"]
    # Click-flood guard: more than `flood_max_clicks` per device or IP class within the window.
    flood_max_clicks: int = 20
    flood_window_s: int = 60
    flood_guard_mode: Literal["enforce", "report_only"] = "enforce"
    # Postbacks: "host:port" pairs exempt from the SSRF guard (a test's own local receiver).
    postback_allowlist: list[str] = []
    postback_max_attempts: int = 6
    postback_backoff_s: float = 2.0
    postback_timeout_s: float = 5.0
    postback_poll_interval_s: float = 0.5
