"""The JSON API for managers' tools: sites, daily counts, report status, devices, alerts.
Every route needs a logged-in user and shows only the sites that user may see."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from core.protocol import ID_MAX, MAX_SEQ
from hub import queries
from hub.api.deps import EngineDep, RegionDep, SettingsDep, SiteDep, UserDep, report_day, report_range
from hub.fever_cases import fever_case
from hub.records import RegionRecord
from hub.region_overview import RegionOverview, overview, region_today, visible_regions
from hub.schemas import Alert, DayCounts, DayStatus, DeviceHealth, FeverCase, SitePublic

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/sites", response_model=list[SitePublic])
def list_sites(engine: EngineDep, user: UserDep) -> list[SitePublic]:
    return queries.list_sites(engine, user.sites)


@router.get("/sites/{site_id}/daily", response_model=list[DayCounts])
def site_daily(
    site: SiteDep,
    engine: EngineDep,
    start: Annotated[date | None, Query(description="First local date; default 30 days ago.")] = None,
    end: Annotated[date | None, Query(description="Last local date; default today (site time).")] = None,
) -> list[DayCounts]:
    """Daily counts in the site's own timezone. Days without data are absent: missing,
    not zero (see /status for whether a day is complete)."""
    first, last = report_range(site, start, end)
    return queries.daily(engine, [site.id], first, last)


@router.get("/sites/{site_id}/status", response_model=DayStatus)
def site_status(
    site: SiteDep, engine: EngineDep, day: Annotated[date | None, Query(alias="date")] = None
) -> DayStatus:
    """Is the day's report complete (zero report), waiting for devices (named), or late?"""
    day = report_day(day) if day else queries.site_today(site) - timedelta(days=1)
    counts = queries.daily(engine, [site.id], day, day)
    return queries.day_status(engine, site, day, counts[0] if counts else None)


@router.get("/sites/{site_id}/devices", response_model=list[DeviceHealth])
def site_devices(site: SiteDep, engine: EngineDep) -> list[DeviceHealth]:
    return queries.device_health(engine, site.id)


@router.get("/sites/{site_id}/fevers/{device_id}/{seq}", response_model=FeverCase)
def site_fever(
    site: SiteDep,
    engine: EngineDep,
    device_id: Annotated[str, Path(max_length=ID_MAX)],
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
) -> FeverCase:
    """A confirmed fever followed through: re-test, disposition, people present."""
    case = fever_case(engine, site.id, device_id, seq)
    if case is None:
        raise HTTPException(404, "No such fever at this site")
    return case


@router.get("/alerts", response_model=list[Alert])
def list_alerts(engine: EngineDep, user: UserDep) -> list[Alert]:
    """Open fever and red-code alerts of my sites, newest first."""
    return queries.open_alerts(engine, [s.id for s in queries.list_sites(engine, user.sites)])


@router.get("/regions", response_model=list[RegionRecord])
def list_regions(engine: EngineDep, user: UserDep) -> list[RegionRecord]:
    """The regions whose pages this user may open: an officer's and every one below them
    (an administrator: all); a manager: none."""
    return visible_regions(engine, user)


@router.get("/regions/{region_id}/overview", response_model=RegionOverview)
def region_overview(
    region_id: RegionDep,
    engine: EngineDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query(alias="date", description="Local date; default today.")] = None,
) -> RegionOverview:
    """A region's day: totals by category and by child region (sums of the sites' own
    local days), sites late with their report or without a working gate, open alerts and
    quiet gates below it."""
    wanted = report_day(day) if day else region_today(settings)
    now_ms = int(time.time() * 1000)
    found = overview(engine, region_id, wanted, now_ms, settings.offline_after_min * 60_000)
    if found is None:
        raise HTTPException(404, "Region not found")
    return found
