"""Settings of the reach process (environment variables prefixed REACH_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReachSettings(BaseSettings):
    """Scheduler pace and the provider of each channel (sandbox unless a webhook URL is set)."""

    model_config = SettingsConfigDict(env_prefix="REACH_", env_file=".env", extra="ignore")

    scheduler_interval_s: float = 1.0
    push_webhook_url: str = ""
    sms_webhook_url: str = ""
    partner_webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout_s: float = 3.0
    retry_delay_s: float = 30.0

    def webhook_url(self, channel: str) -> str:
        return str(getattr(self, f"{channel}_webhook_url", ""))
