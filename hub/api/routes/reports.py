"""Per-site daily counts as JSON."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from hub import queries
from hub.api.deps import EngineDep
from hub.schemas import DayCounts, SitePublic

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/sites", response_model=list[SitePublic])
def list_sites(engine: EngineDep) -> list[SitePublic]:
    return queries.list_sites(engine)


@router.get("/sites/{site_id}/daily", response_model=list[DayCounts])
def site_daily(
    site_id: str,
    engine: EngineDep,
    start: Annotated[date | None, Query(description="First local date; default 30 days ago.")] = None,
    end: Annotated[date | None, Query(description="Last local date; default today (site time).")] = None,
) -> list[DayCounts]:
    """Daily counts in the site's own timezone. Days without data are absent: missing,
    not zero."""
    site = queries.get_site(engine, site_id)
    if site is None:
        raise HTTPException(404, "Site not found")
    end = end or queries.site_today(site)
    start = start or end - timedelta(days=29)
    if start > end:
        raise HTTPException(422, "start is after end")
    return queries.daily(engine, [site_id], start, end)
