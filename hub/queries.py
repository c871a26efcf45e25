"""Every read the API and the dashboard need, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select

from hub.core.db import alerts, daily_counts, devices, sites
from hub.schemas import Alert, DayCounts, DayStatus, DeviceHealth, SitePublic

_FIELD_OF_METRIC = {
    "checks": "checks",
    "admit": "admitted",
    "deny": "denied",
    "remeasure": "remeasure",
    "manual": "manual",
    "fever": "fevers",
    "code_red": "code_red",
    "refused": "refused",
    "override": "overrides",
    "visitor": "visitors",
    "holders": "holders",
    "devices": "devices",
    "temp_manual": "temp_manual",
}
_SITE_COLUMNS = (sites.c.id, sites.c.name, sites.c.timezone, sites.c.report_deadline)


def _site(row: object) -> SitePublic:
    return SitePublic(id=row.id, name=row.name, timezone=row.timezone, report_deadline=row.report_deadline)  # type: ignore[attr-defined]


def list_sites(engine: Engine, allowed: frozenset[str] | None = None) -> list[SitePublic]:
    """Sites, by name; ``allowed`` limits them to a manager's (None: all)."""
    query = select(*_SITE_COLUMNS).order_by(sites.c.name)
    if allowed is not None:
        query = query.where(sites.c.id.in_(allowed))
    with engine.connect() as conn:
        return [_site(r) for r in conn.execute(query)]


def get_site(engine: Engine, site_id: str) -> SitePublic | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_SITE_COLUMNS).where(sites.c.id == site_id)).one_or_none()
    return _site(row) if row else None


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
            kind, _, name = row.metric.partition(":")
            if kind == "deny" and name:
                day.denied_by_reason[name] = row.n
            elif kind == "gate" and name:
                day.by_gate[name] = row.n
            elif kind == "hour" and name:
                day.by_hour[name] = row.n
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


def _local_ms(day: date, at: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tzinfo=tz).timestamp() * 1000)


def day_status(
    engine: Engine, site: SitePublic, day: date, counts: DayCounts | None, now: datetime | None = None
) -> DayStatus:
    """Complete when every active device enrolled before the day ended has synced past the
    end of the day (site time). Complete and clean → automatic zero report; otherwise
    waiting (named devices) or, past the deadline, late. Before any device: no_devices."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(site.timezone)
    end_ms = _local_ms(day + timedelta(days=1), time(0, 0), tz)
    hour, minute = (int(part) for part in site.report_deadline.split(":"))
    deadline = datetime.combine(day + timedelta(days=1), time(hour, minute), tzinfo=tz)
    with engine.connect() as conn:
        active = conn.execute(
            select(devices.c.gate, devices.c.synced_until_ms).where(
                and_(
                    devices.c.site_id == site.id,
                    devices.c.status == "active",
                    devices.c.created_at_ms < end_ms,
                )
            )
        ).all()
    base = {"site_id": site.id, "date": day.isoformat(), "deadline": deadline.isoformat(timespec="minutes")}
    if now.timestamp() * 1000 < end_ms:
        return DayStatus(state="not_begun" if now.astimezone(tz).date() < day else "waiting", **base)
    if not active:
        return DayStatus(state="no_devices", **base)
    behind = sorted({d.gate for d in active if (d.synced_until_ms or 0) < end_ms})
    if behind:
        return DayStatus(state="late" if now >= deadline else "waiting", waiting_for=behind, **base)
    clean = counts is None or counts.incidents == 0
    return DayStatus(state="zero_report" if clean else "reported", **base)


def device_health(engine: Engine, site_id: str, now: datetime | None = None) -> list[DeviceHealth]:
    now_ms = (now or datetime.now(UTC)).timestamp() * 1000
    with engine.connect() as conn:
        rows = conn.execute(
            select(devices).where(devices.c.site_id == site_id).order_by(devices.c.gate)
        ).all()
    return [
        DeviceHealth(
            id=r.id,
            gate=r.gate,
            status=r.status,
            last_seen_ms=r.last_seen_ms,
            synced_until_ms=r.synced_until_ms,
            backlog=r.backlog,
            clock_skew_ms=r.clock_skew_ms,
            software=r.software,
            trust_version=r.trust_version,
            trust_age_hours=round((now_ms - r.trust_fetched_ms) / 3_600_000, 1)
            if r.trust_fetched_ms
            else None,
        )
        for r in rows
    ]


def open_alerts(engine: Engine, site_ids: Sequence[str], limit: int = 100) -> list[Alert]:
    """Unacknowledged alerts of these sites, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts)
            .where(and_(alerts.c.site_id.in_(list(site_ids)), alerts.c.acked_by.is_(None)))
            .order_by(alerts.c.event_ms.desc())
            .limit(limit)
        )
        return [Alert.model_validate(dict(r._mapping)) for r in rows]


def alert_site(engine: Engine, alert_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(alerts.c.site_id).where(alerts.c.id == alert_id))


def count_sites(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(sites)) or 0)
