"""What an officer sees of a region: its numbers by category and by child region for a
day, the sites late with their report or without a working gate, open fevers and red
codes, and gates gone quiet — each a handful of indexed reads, whatever the number of
sites below (the day's numbers come from ``region_daily``, lateness from ``site_sync``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Select, func, select

from hub.auth import User
from hub.core.config import HubSettings
from hub.core.db import (
    ALERT_OPEN,
    alerts,
    categories,
    device_status,
    devices,
    region_daily,
    region_paths,
    region_sites,
    regions,
    site_sync,
    sites,
)
from hub.counting import ROLLUP_METRICS
from hub.records import RegionRecord
from hub.regions import list_regions, path
from hub.rollups import NO_CATEGORY

LIST_LIMIT = 100
"""Rows of the late list and of open alerts shown (the counts are always whole)."""

WIDE = 2000
"""Sites below a region from which its late, alerted and quiet rows are found from their
own indexes rather than by walking the region's sites (see ``_region_of``)."""


@dataclass
class Part:
    """One row of a breakdown: a child region or a category."""

    id: str
    name: str
    sites: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    late: int = 0
    no_gates: int = 0
    open_alerts: int = 0
    offline: int = 0


@dataclass(frozen=True)
class LateSite:
    site_id: str
    name: str
    due_ms: int | None
    """The missed deadline (None: the site has no working gate)."""


@dataclass(frozen=True)
class OpenAlert:
    site_id: str
    site_name: str
    reason: str
    gate: str
    temp_c: float | None
    event_ms: int


@dataclass
class RegionOverview:
    id: str
    name: str
    path: list[tuple[str, str]]
    day: str
    total: Part
    children: list[Part]
    by_category: list[Part]
    late: list[LateSite]
    open_alerts: list[OpenAlert]


def _counts(row: object) -> dict[str, int]:
    return {m: int(getattr(row, m) or 0) for m in ROLLUP_METRICS}


def overview(
    engine: Engine, region_id: str, day: date, now_ms: int, offline_after_ms: int, lang: str = "zh-CN"
) -> RegionOverview | None:
    """The region's page for local day ``day`` (None: no such region)."""
    with engine.connect() as conn:
        trail = path(conn, region_id)
        if not trail:
            return None
        kids = {
            r.id: Part(r.id, r.name)
            for r in conn.execute(
                select(regions.c.id, regions.c.name)
                .where(regions.c.parent_id == region_id)
                .order_by(regions.c.name)
            )
        }
        cats = {
            r.id: Part(r.id, r.name_en if lang == "en" else r.name_zh)
            for r in conn.execute(select(categories).order_by(categories.c.position))
        }
        cats[NO_CATEGORY] = Part(NO_CATEGORY, "—")
        total = Part(region_id, trail[-1][1])
        tops = [region_id, *kids]

        def part(top: str) -> Part:
            return total if top == region_id else kids[top]

        for row in conn.execute(select(region_sites).where(region_sites.c.region_id.in_(tops))):
            part(row.region_id).sites += row.sites
            if row.region_id == region_id:
                cats.setdefault(row.category_id, Part(row.category_id, row.category_id)).sites = row.sites
        rolled = select(region_daily).where(
            region_daily.c.region_id.in_(tops), region_daily.c.local_date == day.isoformat()
        )
        for row in conn.execute(rolled):
            counts = _counts(row)
            if row.region_id == region_id:
                cats.setdefault(row.category_id, Part(row.category_id, row.category_id)).counts = counts
            found = part(row.region_id)
            found.counts = dict(Counter(found.counts) + Counter(counts))
        wide = total.sites > WIDE
        due = site_sync.c.due_ms
        for which, where in (("late", due <= now_ms), ("no_gates", due.is_(None))):
            for top, n in conn.execute(_per_top(_late_below(tops, wide).where(where))):
                setattr(part(top), which, n)
        for top, n in conn.execute(_per_top(_open_below(tops, wide))):
            part(top).open_alerts = n
        for top, n in conn.execute(_per_top(_quiet_below(tops, wide, now_ms - offline_after_ms))):
            part(top).offline = n
        late = _late_list(conn, region_id, wide, now_ms)
        shown = [
            OpenAlert(r.site_id, r.name, r.reason, r.gate, r.temp_c, r.event_ms)
            for r in conn.execute(
                _open_below([region_id], wide)
                .add_columns(sites.c.name, alerts.c.reason, alerts.c.gate, alerts.c.temp_c, alerts.c.event_ms)
                .join(sites, sites.c.id == alerts.c.site_id)
                .order_by(alerts.c.event_ms.desc())
                .limit(LIST_LIMIT)
            )
        ]
    by_category = [c for c in cats.values() if c.sites or c.counts]
    return RegionOverview(
        region_id, trail[-1][1], trail, day.isoformat(), total, list(kids.values()), by_category, late, shown
    )


# Each "below" query reaches the regions through ``site_sync.region_id`` and the closure.
# A small region starts from its own sites (``site_sync_by_region``); a wide one — a city,
# a province — from the few rows that matter: sites late or without a gate (the due
# index), open alerts (their partial index), gates gone quiet (the last-seen index). The
# planners (SQLite's above all) do not always see which is cheaper, so a wide region's
# join goes through an expression no index can serve (``_region_of``): never a pass over
# every site or gate of a province.


def _region_of(wide: bool) -> Any:
    return func.coalesce(site_sync.c.region_id, "") if wide else site_sync.c.region_id


def _late_below(tops: list[str], wide: bool) -> Select[Any]:
    return (
        select(region_paths.c.ancestor_id.label("top"), site_sync.c.site_id, site_sync.c.due_ms)
        .join(region_paths, region_paths.c.region_id == _region_of(wide))
        .where(region_paths.c.ancestor_id.in_(tops))
    )


def _open_below(tops: list[str], wide: bool) -> Select[Any]:
    return (
        select(region_paths.c.ancestor_id.label("top"), alerts.c.site_id)
        .join(site_sync, site_sync.c.site_id == alerts.c.site_id)
        .join(region_paths, region_paths.c.region_id == _region_of(wide))
        .where(region_paths.c.ancestor_id.in_(tops), ALERT_OPEN)
    )


def _quiet_below(tops: list[str], wide: bool, before_ms: int) -> Select[Any]:
    """Active gates last heard from before ``before_ms`` (gates never heard from are not
    offline but new; revoked ones are not gates any more)."""
    revoked = select(devices.c.id).where(
        devices.c.status != "active", devices.c.id == device_status.c.device_id
    )
    return (
        select(region_paths.c.ancestor_id.label("top"), device_status.c.device_id)
        .join(site_sync, site_sync.c.site_id == device_status.c.site_id)
        .join(region_paths, region_paths.c.region_id == _region_of(wide))
        .where(
            region_paths.c.ancestor_id.in_(tops),
            device_status.c.last_seen_ms < before_ms,
            ~revoked.exists(),
        )
    )


def _per_top(rows: Select[Any]) -> Select[Any]:
    found = rows.subquery()
    return select(found.c.top, func.count()).group_by(found.c.top)


def _late_list(conn: Connection, region_id: str, wide: bool, now_ms: int) -> list[LateSite]:
    """The sites late with their report (oldest deadline first), then those without a gate."""
    due = site_sync.c.due_ms
    first = (
        _late_below([region_id], wide)
        .where((due <= now_ms) | due.is_(None))
        .order_by(due.is_(None), due, site_sync.c.site_id)
        .limit(LIST_LIMIT)
        .subquery()
    )
    rows = conn.execute(
        select(first.c.site_id, sites.c.name, first.c.due_ms)
        .join(sites, sites.c.id == first.c.site_id)
        .order_by(first.c.due_ms.is_(None), first.c.due_ms, sites.c.name)
    )
    return [LateSite(r.site_id, r.name, r.due_ms) for r in rows]


def region_today(settings: HubSettings) -> date:
    """The date a region page opens on: today in ``region_timezone``."""
    return datetime.now(UTC).astimezone(ZoneInfo(settings.region_timezone)).date()


def visible_regions(engine: Engine, user: User) -> list[RegionRecord]:
    """Every region whose page the user may open, in tree order."""
    if user.role == "admin":
        return list_regions(engine)
    if user.role != "officer":
        return []
    tree = list_regions(engine)
    shown: set[str] = set(user.regions)
    for region in tree:  # parents come before their children
        if region.parent_id in shown:
            shown.add(region.id)
    return [r for r in tree if r.id in shown]
