"""What an officer sees of a region: its numbers by category and by child region for a
day, the sites late with their report or without a working gate, open fevers and red
codes, and gates gone quiet — each a handful of indexed reads, whatever the number of
sites below (the day's numbers come from ``region_daily``, lateness from ``site_sync``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select

from hub.auth import User
from hub.core.config import HubSettings
from hub.core.db import (
    alerts,
    categories,
    device_status,
    devices,
    region_daily,
    region_paths,
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
        # The region's sites and the children's, per category: one pass over the closure.
        tops = [region_id, *kids]
        placed = (
            select(region_paths.c.ancestor_id, sites.c.category_id, func.count())
            .join(sites, sites.c.region_id == region_paths.c.region_id)
            .where(region_paths.c.ancestor_id.in_(tops))
            .group_by(region_paths.c.ancestor_id, sites.c.category_id)
        )
        for top, category, n in conn.execute(placed):
            if top == region_id:
                total.sites += n
                cats[category or NO_CATEGORY].sites += n
            else:
                kids[top].sites += n
        rolled = select(region_daily).where(
            region_daily.c.region_id.in_(tops), region_daily.c.local_date == day.isoformat()
        )
        for row in conn.execute(rolled):
            counts = _counts(row)
            if row.region_id == region_id:
                cats.setdefault(row.category_id, Part(row.category_id, row.category_id)).counts = counts
                total.counts = dict(Counter(total.counts) + Counter(counts))
            else:
                part = kids[row.region_id]
                part.counts = dict(Counter(part.counts) + Counter(counts))
        # Late reports and sites without a working gate, counted per child, listed oldest first.
        below = (
            select(region_paths.c.ancestor_id.label("top"), sites.c.id, sites.c.name, site_sync.c.due_ms)
            .select_from(
                site_sync.join(sites, sites.c.id == site_sync.c.site_id).join(
                    region_paths, region_paths.c.region_id == sites.c.region_id
                )
            )
            .where(region_paths.c.ancestor_id.in_(tops))
        )
        overdue = below.where(site_sync.c.due_ms <= now_ms)
        no_gate = below.where(site_sync.c.due_ms.is_(None))
        for which, query in (("late", overdue), ("no_gates", no_gate)):
            sub = query.subquery()
            for top, n in conn.execute(select(sub.c.top, func.count()).group_by(sub.c.top)):
                part = total if top == region_id else kids[top]
                setattr(part, which, n)
        late = [
            LateSite(r.id, r.name, r.due_ms)
            for r in conn.execute(
                below.where(
                    region_paths.c.ancestor_id == region_id,
                    (site_sync.c.due_ms <= now_ms) | site_sync.c.due_ms.is_(None),
                )
                .order_by(site_sync.c.due_ms.is_(None), site_sync.c.due_ms, sites.c.name)
                .limit(LIST_LIMIT)
            )
        ]
        # Open fevers and red codes (and every other open alert) below, newest first.
        open_below = (
            select(region_paths.c.ancestor_id.label("top"), alerts.c.site_id, sites.c.name, alerts.c.reason,
                   alerts.c.gate, alerts.c.temp_c, alerts.c.event_ms)
            .select_from(
                alerts.join(sites, sites.c.id == alerts.c.site_id).join(
                    region_paths, region_paths.c.region_id == sites.c.region_id
                )
            )
            .where(region_paths.c.ancestor_id.in_(tops), alerts.c.acked_at_ms.is_(None))
        )  # fmt: skip
        sub = open_below.subquery()
        for top, n in conn.execute(select(sub.c.top, func.count()).group_by(sub.c.top)):
            (total if top == region_id else kids[top]).open_alerts = n
        shown = [
            OpenAlert(r.site_id, r.name, r.reason, r.gate, r.temp_c, r.event_ms)
            for r in conn.execute(
                open_below.where(region_paths.c.ancestor_id == region_id)
                .order_by(alerts.c.event_ms.desc())
                .limit(LIST_LIMIT)
            )
        ]
        # Gates not heard from lately (active ones that have been heard from at all).
        quiet = (
            select(region_paths.c.ancestor_id, func.count())
            .select_from(
                device_status.join(
                    devices,
                    and_(
                        devices.c.id == device_status.c.device_id,
                        devices.c.site_id == device_status.c.site_id,
                    ),
                )
                .join(sites, sites.c.id == device_status.c.site_id)
                .join(region_paths, region_paths.c.region_id == sites.c.region_id)
            )
            .where(
                region_paths.c.ancestor_id.in_(tops),
                devices.c.status == "active",
                device_status.c.last_seen_ms < now_ms - offline_after_ms,
            )
            .group_by(region_paths.c.ancestor_id)
        )
        for top, n in conn.execute(quiet):
            (total if top == region_id else kids[top]).offline = n
    by_category = [c for c in cats.values() if c.sites or c.counts]
    return RegionOverview(
        region_id, trail[-1][1], trail, day.isoformat(), total, list(kids.values()), by_category, late, shown
    )


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
