"""Hub settings, from the environment (``GATECHECK_HUB_*``) or arguments."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATECHECK_HUB_", extra="forbid")

    database_url: str = Field(
        "sqlite:///gatecheck-hub.db",
        description="SQLAlchemy URL: SQLite by default, postgresql+psycopg://... for scale.",
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, description="Largest decompressed upload the hub accepts.")
    dashboard_days: int = Field(7, ge=1, le=90, description="Days shown on the overview.")
    alert_webhook_url: str | None = Field(
        None, description="POSTed a JSON list of alerts (fevers, red codes) as they arrive."
    )
