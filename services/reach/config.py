"""Settings of the reach process (environment variables prefixed REACH_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReachSettings(BaseSettings):
    """Scheduler pace and the provider of each channel (sandbox unless a webhook URL is set)."""

    model_config = SettingsConfigDict(env_prefix="REACH_", env_file=".env", extra="ignore")

    # how often due deliveries (quiet hours over, retries) are sent
    scheduler_interval_s: float = 1.0
    # the push provider's webhook; unset: the sandbox provider (development only)
    push_webhook_url: str = ""
    # the SMS provider's webhook; unset: the sandbox provider (development only)
    sms_webhook_url: str = ""
    # the partner-channel provider's webhook; unset: the sandbox provider (development only)
    partner_webhook_url: str = ""
    # signs reach's requests to the providers' webhooks (Standard Webhooks)
    webhook_secret: str = ""
    # timeout of one provider call
    webhook_timeout_s: float = 3.0
    # delay before a failed delivery is tried again
    retry_delay_s: float = 30.0

    def webhook_url(self, channel: str) -> str:
        return str(getattr(self, f"{channel}_webhook_url", ""))
