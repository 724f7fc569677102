"""Settings of the benefits service (env prefix BENEFITS_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.benefits.rules import RiskLimits


class BenefitsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BENEFITS_", env_file=".env", extra="ignore")

    # how often expired holds are released and grants expired
    sweep_interval_s: float = 5.0
    # risk limit: benefit claims per device per hour
    device_claims_per_hour: int = 10
    # risk limit: benefit claims per customer per hour
    customer_claims_per_hour: int = 20
    # threads that run writes (each waits for its group commit on SQLite): more in flight, bigger groups
    write_threads: int = 32
    # Fault injection for crash tests: exit right after a commit, before answering (never in production).
    fault_kill_after_commit: bool = False

    def risk_limits(self) -> RiskLimits:
        return RiskLimits(
            device_claims_per_hour=self.device_claims_per_hour,
            customer_claims_per_hour=self.customer_claims_per_hour,
        )
