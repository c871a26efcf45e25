"""Hub settings, from the environment (``GATECHECK_HUB_*``) or arguments."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATECHECK_HUB_", extra="forbid")

    database_url: str = Field(
        "sqlite:///gatecheck-hub.db",
        description="SQLAlchemy URL: SQLite by default, postgresql+psycopg://... for scale.",
    )
    db_connections: int = Field(
        4,
        ge=1,
        le=200,
        description="Database connections each hub process keeps open, and so the requests it works on "
        "at once (the rest wait their turn without a thread or a connection).",
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, description="Largest decompressed upload the hub accepts.")
    dashboard_days: int = Field(7, ge=1, le=90, description="Days shown on the overview.")
    overview_page_size: int = Field(50, ge=5, le=500, description="Sites per overview page.")
    overview_alerts: int = Field(
        20, ge=5, le=200, description="Open alerts on the overview (the newest; all of them on /alerts)."
    )
    fever_report_min: int = Field(
        30, ge=5, le=24 * 60, description="A fever alert must be reported within this (the 0.5 h rule)."
    )
    alert_report_min: int = Field(
        60, ge=5, le=24 * 60, description="Other alerts (red codes, anomalies) must be reported within this."
    )
    report_font: Path | None = Field(
        None, description="CJK font for the report PDFs (default: Debian's fonts-noto-cjk)."
    )
    escalate_every_s: float = Field(
        60.0, ge=1, le=3600, description="How often overdue alerts are looked for (and escalated)."
    )
    rollup_every_s: float = Field(
        5.0, ge=0.2, le=3600, description="How often count changes are folded into the region rollups."
    )
    region_timezone: str = Field(
        "Asia/Shanghai",
        description="The zone whose date region pages open on (each site counts its own local days).",
    )
    offline_after_min: int = Field(
        30, ge=1, le=7 * 24 * 60, description="A gate not heard from for this long is flagged offline."
    )
    https: bool = Field(
        False,
        description="The dashboard is served over HTTPS (directly or behind a proxy): cookies are "
        "marked Secure and browsers told to use HTTPS only (HSTS).",
    )
    metrics_token: str | None = Field(None, description="Bearer token Prometheus scrapes /metrics with.")
    alert_webhook_url: str | None = Field(
        None, description="POSTed a JSON list of alerts (fevers, red codes) as they arrive."
    )

    @field_validator("region_timezone")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Asia/Shanghai") from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _not_a_placeholder(cls, value: str | None) -> str | None:
        if value is not None and (value.lower() in {"changethis", "secret", "changeme"} or len(value) < 16):
            raise ValueError("use a random value of at least 16 characters, not a placeholder")
        return value
