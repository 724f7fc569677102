"""Settings of the conversion service (environment variables prefixed CONVERSION_)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.ssrf import check_redirect_url


class ConversionSettings(BaseSettings):
    """Attribution, funnel, link, flood-guard and postback settings."""

    model_config = SettingsConfigDict(env_prefix="CONVERSION_", env_file=".env", extra="ignore")

    # where a click on a bad, expired or flooded link lands (an https page on the bank's domains)
    safe_landing_url: str = "https://www.bank.example/"
    # Visitors are sent only to https pages on these domains (and their subdomains) or to deep
    # links into these bank apps: a landing is checked when written, the safe landing at start.
    landing_domains: list[str] = ["bank.example"]
    # deep-link schemes of the bank's apps that landings may use instead of https
    landing_app_schemes: list[str] = ["mbank", "life", "wealth"]
    # attribution: a milestone is credited to the last click within this many days
    default_lookback_days: int = 7
    # attribution: milestones count within this many days after the customer was linked
    default_window_days: int = 14
    # partner links expire after this many days unless they say otherwise
    link_default_ttl_days: int = 30
    # the longest a partner link may live
    link_max_ttl_days: int = 365
    # after a link signing key rotation, links signed with the previous key stay valid this long
    key_overlap_days: int = 30
    # A returning customer counts as re-engaged only after this many days without activity.
    inactivity_days: int = 30
    # Click-flood guard: more than `flood_max_clicks` per device or IP class within the window.
    flood_max_clicks: int = 20
    # click-flood guard: the window, in seconds
    flood_window_s: int = 60
    # click-flood guard: `enforce` (flooded clicks are not attributed) or `report_only`
    flood_guard_mode: Literal["enforce", "report_only"] = "enforce"
    # Postbacks: "host:port" pairs exempt from the SSRF guard (a test's own local receiver); the
    # same variable identity reads for partners' registered postback URLs (services/runtime/ssrf.py).
    postback_allowlist: list[str] = []
    # postback attempts before it is dead-lettered
    postback_max_attempts: int = 6
    # first retry delay of a postback (doubles each attempt)
    postback_backoff_s: float = 2.0
    # timeout of one postback HTTP call
    postback_timeout_s: float = 5.0
    # The sender is woken by each commit that queues a delivery and sleeps until the next retry is
    # due; this bounds the sleep (deliveries queued by a replica that stopped before sending them).
    postback_poll_interval_s: float = 5.0

    @model_validator(mode="after")
    def _safe_landing_is_safe(self) -> ConversionSettings:
        self.check_landing(self.safe_landing_url, field="safe_landing_url")
        return self

    def check_landing(self, url: str, *, field: str = "landing_url") -> None:
        """Raise InvalidInput unless visitors may be redirected to `url`."""
        check_redirect_url(
            url, domains=self.landing_domains, app_schemes=self.landing_app_schemes, field=field
        )
