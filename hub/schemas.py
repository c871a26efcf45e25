"""Shapes of the hub's JSON API for people and dashboards (device uploads: sync.protocol)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SitePublic(BaseModel):
    id: str
    name: str
    timezone: str


class DayCounts(BaseModel):
    """One site's numbers for one local day. Absent days are missing data, not zeros."""

    site_id: str
    date: str = Field(description="Local date in the site's timezone, YYYY-MM-DD.")
    checks: int = 0
    admitted: int = 0
    denied: int = 0
    remeasure: int = 0
    manual: int = 0
    fevers: int = 0
    temp_manual: int = Field(0, description="Checks whose temperature a guard typed in.")
    denied_by_reason: dict[str, int] = Field(default_factory=dict)
