"""Every read the API and the dashboard need, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, select

from hub.core.db import daily_counts, sites
from hub.schemas import DayCounts, SitePublic

_FIELD_OF_METRIC = {
    "checks": "checks",
    "admit": "admitted",
    "deny": "denied",
    "remeasure": "remeasure",
    "manual": "manual",
    "fever": "fevers",
    "temp_manual": "temp_manual",
}


def list_sites(engine: Engine) -> list[SitePublic]:
    with engine.connect() as conn:
        rows = conn.execute(select(sites.c.id, sites.c.name, sites.c.timezone).order_by(sites.c.name))
        return [SitePublic(id=r.id, name=r.name, timezone=r.timezone) for r in rows]


def get_site(engine: Engine, site_id: str) -> SitePublic | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(sites.c.id, sites.c.name, sites.c.timezone).where(sites.c.id == site_id)
        ).one_or_none()
    return SitePublic(id=row.id, name=row.name, timezone=row.timezone) if row else None


def daily(engine: Engine, site_ids: Sequence[str], start: date, end: date) -> list[DayCounts]:
    """Counts for each (site, day) in [start, end] that has data, ordered by site and day."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(daily_counts).where(
                and_(
                    daily_counts.c.site_id.in_(list(site_ids)),
                    daily_counts.c.local_date.between(start.isoformat(), end.isoformat()),
                )
            )
        )
        days: dict[tuple[str, str], DayCounts] = {}
        for row in rows:
            day = days.setdefault(
                (row.site_id, row.local_date), DayCounts(site_id=row.site_id, date=row.local_date)
            )
            if row.metric.startswith("deny:"):
                day.denied_by_reason[row.metric.removeprefix("deny:")] = row.n
            elif row.metric in _FIELD_OF_METRIC:
                setattr(day, _FIELD_OF_METRIC[row.metric], row.n)
    return [days[key] for key in sorted(days)]


def site_today(site: SitePublic, now: datetime | None = None) -> date:
    """Today's date where the site is."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(site.timezone)).date()


def recent_days(today: date, n: int) -> list[date]:
    """The last ``n`` days ending today, newest first."""
    return [today - timedelta(days=i) for i in range(n)]
