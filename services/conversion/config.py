"""Settings of the conversion service (environment variables prefixed CONVERSION_)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.ssrf import check_redirect_url


class ConversionSettings(BaseSettings):
    """Attribution, funnel, link, flood-guard and postback settings."""

    model_config = SettingsConfigDict(env_prefix="CONVERSION_", env_file=".env", extra="ignore")

    safe_landing_url: str = "https://www.bank.example/"
    # Visitors are sent only to https pages on these domains (and their subdomains) or to deep
    # links into these bank apps: a landing is checked when written, the safe landing at start.
    landing_domains: list[str] = ["bank.example"]
    landing_app_schemes: list[str] = ["mbank", "life", "wealth"]
    default_lookback_days: int = 7
    default_window_days: int = 14
    link_default_ttl_days: int = 30
    link_max_ttl_days: int = 365
    key_overlap_days: int = 30
    # A returning customer counts as re-engaged only after this many days without activity.
    inactivity_days: int = 30
    # Click-flood guard: more than `flood_max_clicks` per device or IP class within the window.
    flood_max_clicks: int = 20
    flood_window_s: int = 60
    flood_guard_mode: Literal["enforce", "report_only"] = "enforce"
    # Postbacks: "host:port" pairs exempt from the SSRF guard (a test's own local receiver); the
    # same variable identity reads for partners' registered postback URLs (services/runtime/ssrf.py).
    postback_allowlist: list[str] = []
    postback_max_attempts: int = 6
    postback_backoff_s: float = 2.0
    postback_timeout_s: float = 5.0
    postback_poll_interval_s: float = 0.5

    @model_validator(mode="after")
    def _safe_landing_is_safe(self) -> ConversionSettings:
        self.check_landing(self.safe_landing_url, field="safe_landing_url")
        return self

    def check_landing(self, url: str, *, field: str = "landing_url") -> None:
        """Raise InvalidInput unless visitors may be redirected to `url`."""
        check_redirect_url(
            url, domains=self.landing_domains, app_schemes=self.landing_app_schemes, field=field
        )
