"""Every read the API and the dashboard need, and their one write (acknowledging an
alert), in one place."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, case, func, or_, select, true, update

from hub.core.db import (
    ALERT_OPEN,
    Bind,
    alerts,
    checks,
    daily_counts,
    device_status,
    devices,
    devices_with_status,
    reading,
    sites,
)
from hub.counting import DENIED
from hub.fever_cases import flag_value
from hub.schemas import Alert, DayCounts, DayState, DayStatus, DeviceHealth, SitePublic
from hub.sql import object_of, one_of

_SITE_COLUMNS = (sites.c.id, sites.c.name, sites.c.timezone, sites.c.report_deadline)


def _site(row: object) -> SitePublic:
    return SitePublic(id=row.id, name=row.name, timezone=row.timezone, report_deadline=row.report_deadline)  # type: ignore[attr-defined]


def list_sites(db: Bind, allowed: frozenset[str] | None = None) -> list[SitePublic]:
    """Sites, by name; ``allowed`` limits them to a manager's (None: all)."""
    query = select(*_SITE_COLUMNS).order_by(sites.c.name)
    with reading(db) as conn:
        if allowed is not None:
            query = query.where(one_of(conn, sites.c.id, sorted(allowed)))
        return [_site(r) for r in conn.execute(query)]


def page_reads(engine: Engine) -> AbstractContextManager[Connection]:
    """One connection for all of a page's reads (``hub.core.db.reading``)."""
    return reading(engine)


def get_site(db: Bind, site_id: str) -> SitePublic | None:
    with reading(db) as conn:
        row = conn.execute(select(*_SITE_COLUMNS).where(sites.c.id == site_id)).one_or_none()
    return _site(row) if row else None


OVERVIEW_METRICS = ("checks", "admitted", "denied", "fevers", "holders", "code_red", "refused")
_DAY_FIELDS = frozenset(DayCounts.model_fields)
"""What the all-sites overview shows (in DaySummary's order), besides the denial reasons."""


def daily(db: Bind, site_ids: Sequence[str] | None, start: date, end: date) -> list[DayCounts]:
    """Counts for each (site, day) in [start, end] that has data, ordered by site and day
    (``site_ids`` None: every site)."""
    query = select(
        daily_counts.c.site_id, daily_counts.c.local_date, daily_counts.c.metric, daily_counts.c.n
    ).where(daily_counts.c.local_date.between(start.isoformat(), end.isoformat()))
    days: dict[tuple[str, str], DayCounts] = {}
    with reading(db) as conn:
        if site_ids is not None:
            query = query.where(one_of(conn, daily_counts.c.site_id, site_ids))
        for site_id, local_date, metric, n in conn.execute(query):
            day = days.get((site_id, local_date))
            if day is None:
                # Our own rows: no need to validate what the database just handed back.
                day = days[(site_id, local_date)] = DayCounts.model_construct(
                    site_id=site_id, date=local_date, denied_by_reason={}, by_gate={}, by_hour={},
                    incomplete_by_part={}, by_category={},
                )  # fmt: skip
            kind, _, name = metric.partition(":")
            if kind == "deny" and name:
                day.denied_by_reason[name] = n
            elif kind == "gate" and name:
                day.by_gate[name] = n
            elif kind == "hour" and name:
                day.by_hour[name] = n
            elif kind == "incomplete" and name:
                day.incomplete_by_part[name] = n
            elif kind == "person" and name:
                day.by_category[name] = n
            elif metric in _DAY_FIELDS:  # a metric is named as the field it fills
                setattr(day, metric, n)
    return [days[key] for key in sorted(days)]


@dataclass(slots=True)
class DaySummary:
    """The overview's numbers for one site-day (light: a thousand sites × a week of them)."""

    site_id: str
    date: str
    checks: int
    admitted: int
    denied: int
    fevers: int
    holders: int
    code_red: int
    refused: int
    denied_by_reason: dict[str, int]

    @property
    def incidents(self) -> int:
        return self.fevers + self.code_red + self.refused


_PIVOT = tuple(
    func.sum(case((daily_counts.c.metric == metric, daily_counts.c.n), else_=0))
    for metric in OVERVIEW_METRICS
)
"""The overview's metrics as columns, each a sum over a site-day's rows (built once: an
expression costs more to build than to run)."""


def overview_counts(db: Bind, site_ids: Sequence[str] | None, start: date, end: date) -> list[DaySummary]:
    """What the all-sites overview shows, pivoted in SQL: one row per site-day (a thousand
    sites × a week is 7,000 rows, not 50,000), its denial reasons as one JSON object."""
    with reading(db) as conn:
        denial = daily_counts.c.metric.like(DENIED + "%")
        wanted = or_(one_of(conn, daily_counts.c.metric, OVERVIEW_METRICS), denial)
        where = and_(daily_counts.c.local_date.between(start.isoformat(), end.isoformat()), wanted)
        if site_ids is not None:
            where = and_(where, one_of(conn, daily_counts.c.site_id, site_ids))
        reasons = object_of(conn, func.substr(daily_counts.c.metric, len(DENIED) + 1), daily_counts.c.n)
        rows = conn.execute(
            select(daily_counts.c.site_id, daily_counts.c.local_date, *_PIVOT)
            .add_columns(reasons.filter(denial))
            .where(where)
            .group_by(daily_counts.c.local_date, daily_counts.c.site_id)  # index order: no sort
        ).all()
    found = [
        DaySummary(site_id, day, int(checks), int(admitted), int(denied), int(fevers), int(holders),
                   int(code_red), int(refused), by_reason or {})  # None: the day had no denial
        for site_id, day, checks, admitted, denied, fevers, holders, code_red, refused, by_reason in rows
    ]  # fmt: skip
    return sorted(found, key=lambda d: (d.site_id, d.date))


def overview_totals(db: Bind, site_ids: Sequence[str] | None, day: date) -> DaySummary:
    """Today's numbers summed over all the sites a user may see (one pivoted row)."""
    with reading(db) as conn:
        where: ColumnElement[bool] = and_(
            daily_counts.c.local_date == day.isoformat(),
            one_of(conn, daily_counts.c.metric, OVERVIEW_METRICS),
        )
        if site_ids is not None:
            where = and_(where, one_of(conn, daily_counts.c.site_id, site_ids))
        checks, admitted, denied, fevers, holders, code_red, refused = conn.execute(
            select(*(func.coalesce(total, 0) for total in _PIVOT)).where(where)
        ).one()
    return DaySummary("*", day.isoformat(), checks, admitted, denied, fevers, holders, code_red, refused, {})


def site_today_utc() -> date:
    return datetime.now(UTC).date()


def site_today(site: SitePublic, now: datetime | None = None) -> date:
    """Today's date where the site is."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(site.timezone)).date()


def recent_days(today: date, n: int) -> list[date]:
    """The last ``n`` days ending today, newest first."""
    return [today - timedelta(days=i) for i in range(n)]


def _local_ms(day: date, at: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tzinfo=tz).timestamp() * 1000)


class _Device(NamedTuple):
    """An active device as the names of late and quiet gates need it."""

    site_id: str
    gate: str
    synced_until_ms: int | None
    created_at_ms: int
    last_seen_ms: int | None


class Gates(NamedTuple):
    """A site's active gates summed up in one row: all its report states and its place on
    the worklist need (an administrator's overview orders a thousand gates' sites; a row
    per gate was the page's largest read). The gates' names come from ``active_devices``,
    for the few rows that show them."""

    first_enrolled_ms: int
    """The earliest enrolment: a day that ended before it was watched by no gate."""
    complete_until_ms: int
    """Each gate has sent everything up to here or was enrolled after it: a day that
    ended by then is complete."""
    last_seen_ms: int | None
    """The latest contact of any of them (None: never)."""
    quiet: int
    """How many were not heard from since the time asked for (or never)."""


def _sites_where(conn: Connection, column: Any, site_ids: Collection[str] | None) -> ColumnElement[bool]:
    """Rows of these sites; of every site for None (an administrator's view: no list to
    send or to match, every row is wanted anyway)."""
    return true() if site_ids is None else one_of(conn, column, sorted(site_ids))


def _gates_summed(conn: Connection, site_ids: Collection[str] | None, quiet_before_ms: int) -> Select[Any]:
    """Each site's active gates in one row (``Gates``' columns after the site's id)."""
    sent = func.coalesce(device_status.c.synced_until_ms, 0)
    heard = device_status.c.last_seen_ms
    return (
        select(devices.c.site_id, func.min(devices.c.created_at_ms).label("first_enrolled_ms"))
        .add_columns(
            func.min(case((sent > devices.c.created_at_ms, sent), else_=devices.c.created_at_ms)).label(
                "complete_until_ms"
            ),
            func.max(heard).label("last_seen_ms"),
            func.count().filter(or_(heard.is_(None), heard < quiet_before_ms)).label("quiet"),
        )
        .select_from(devices_with_status)
        .where(and_(_sites_where(conn, devices.c.site_id, site_ids), devices.c.status == "active"))
        .group_by(devices.c.site_id)
    )


def _summed(first: int | None, until: int | None, seen: int | None, quiet: int | None) -> Gates | None:
    return None if first is None or until is None else Gates(int(first), int(until), seen, int(quiet or 0))


def gates_of(db: Bind, site_ids: Collection[str] | None, quiet_before_ms: int = 0) -> dict[str, Gates]:
    """Each site's active gates summed up (None: of every site; sites without any are
    absent); ``quiet`` counts those not heard from since ``quiet_before_ms``."""
    with reading(db) as conn:
        rows = conn.execute(_gates_summed(conn, site_ids, quiet_before_ms)).all()
    return {site_id: summed for site_id, *columns in rows if (summed := _summed(*columns))}


class SiteState(NamedTuple):
    """A site as the overview orders it."""

    site: SitePublic
    gates: Gates | None
    """Its active gates summed up (None: it has none)."""
    open_alerts: int


def worklist_sites(db: Bind, site_ids: Collection[str] | None, quiet_before_ms: int) -> list[SiteState]:
    """The sites a user may see (None: every site), by name, each with its gates summed up
    and its open alerts: one statement, however many sites — the overview orders all of
    them to show a page (a statement each for the sites, their gates and their alerts
    before: under load every round trip waits for a core)."""
    with reading(db) as conn:
        gates = _gates_summed(conn, site_ids, quiet_before_ms).subquery("gates")
        alerts_open = _open_counts(conn, site_ids).subquery("alerts_open")
        rows = conn.execute(
            select(*_SITE_COLUMNS, gates.c.first_enrolled_ms, gates.c.complete_until_ms, gates.c.last_seen_ms)
            .add_columns(gates.c.quiet, alerts_open.c.n)
            .select_from(
                sites.outerjoin(gates, gates.c.site_id == sites.c.id).outerjoin(
                    alerts_open, alerts_open.c.site_id == sites.c.id
                )
            )
            .where(_sites_where(conn, sites.c.id, site_ids))
            .order_by(sites.c.name)
        ).all()
    return [SiteState(_site(row), _summed(*row[4:8]), int(row.n or 0)) for row in rows]


ActiveDevices = dict[str, list[_Device]]
"""Each site's active devices and how far they synced: whose names a page shows."""


def active_devices(db: Bind, site_ids: Sequence[str]) -> ActiveDevices:
    """Every active device of these sites (each site present, perhaps with none).
    Unordered: the gate names a page shows are sorted where they are picked."""
    if not site_ids:
        return {}
    with reading(db) as conn:
        rows = conn.execute(
            select(devices.c.site_id, devices.c.gate, device_status.c.synced_until_ms)
            .add_columns(devices.c.created_at_ms, device_status.c.last_seen_ms)
            .select_from(devices_with_status)
            .where(and_(one_of(conn, devices.c.site_id, site_ids), devices.c.status == "active"))
        ).all()
    found: ActiveDevices = {site_id: [] for site_id in site_ids}
    for row in rows:
        found[row[0]].append(_Device(*row))
    return found


class _HasIncidents(Protocol):
    @property
    def incidents(self) -> int: ...


class _Day(NamedTuple):
    """A site-day's report state, its deadline, and the instant the day ends."""

    state: DayState
    deadline: datetime
    end_ms: int

    def owes(self, now: datetime) -> bool:
        """Whether some gate has still to send the day, which has ended (then its gates
        behind are named)."""
        return self.state in ("waiting", "late") and now.timestamp() * 1000 >= self.end_ms


def _day(site: SitePublic, day: date, incidents: int | None, gates: Gates | None, now: datetime) -> _Day:
    """A site-day's report state (see ``day_statuses``)."""
    tz = ZoneInfo(site.timezone)
    end_ms = _local_ms(day + timedelta(days=1), time(0, 0), tz)
    hour, minute = (int(part) for part in site.report_deadline.split(":"))
    deadline = datetime.combine(day + timedelta(days=1), time(hour, minute), tzinfo=tz)
    state: DayState
    if now.timestamp() * 1000 < end_ms:
        state = "not_begun" if now.astimezone(tz).date() < day else "waiting"
    elif gates is None or gates.first_enrolled_ms >= end_ms:
        state = "no_devices"
    elif gates.complete_until_ms < end_ms:
        state = "late" if now >= deadline else "waiting"
    else:
        state = "zero_report" if not incidents else "reported"
    return _Day(state, deadline, end_ms)


def _behind(active: list[_Device], end_ms: int) -> list[str]:
    """The gates, enrolled before a day ended, that have not yet sent all of it."""
    return sorted({d.gate for d in active if d.created_at_ms < end_ms and (d.synced_until_ms or 0) < end_ms})


def waiting_states(
    wanted: Sequence[tuple[SitePublic, date]], now: datetime, gates: dict[str, Gates]
) -> dict[str, DayState]:
    """Each site-day's report state as far as completeness goes — whether the report is
    waiting, late, or complete (a complete one reads zero_report: incidents not looked at)
    — for ordering a thousand sites without a model or a counts query each."""
    return {site.id: _day(site, day, None, gates.get(site.id), now).state for site, day in wanted}


def day_statuses(
    db: Bind,
    wanted: Sequence[tuple[SitePublic, date, _HasIncidents | None]],
    now: datetime | None = None,
    gates: dict[str, Gates] | None = None,
    active: ActiveDevices | None = None,
) -> list[DayStatus]:
    """Report status of several site-days (their sites' ``gates`` and ``active`` devices
    read here unless given; devices only of the sites whose gates are behind).

    A site-day is complete when every active device enrolled before the day ended has
    synced past the end of the day (site time). Complete and clean (no fever, red code or
    refusal) → automatic zero report; complete with incidents → reported; otherwise
    waiting (devices named) or, past the next day's deadline, late. Before any device
    was enrolled: no_devices — never a zero report for a day nobody watched."""
    now = now or datetime.now(UTC)
    if gates is None:
        gates = gates_of(db, {site.id for site, _, _ in wanted})
    days = [
        _day(site, day, counts.incidents if counts else None, gates.get(site.id), now)
        for site, day, counts in wanted
    ]
    active = dict(active or {})
    named = sorted(
        {site.id for (site, _, _), found in zip(wanted, days, strict=True) if found.owes(now)} - set(active)
    )
    active |= active_devices(db, named)
    # Built from values computed here: no validation needed (a thousand a page).
    return [
        DayStatus.model_construct(
            site_id=site.id,
            date=day.isoformat(),
            deadline=found.deadline.isoformat(timespec="minutes"),
            state=found.state,
            waiting_for=_behind(active[site.id], found.end_ms) if found.owes(now) else [],
        )
        for (site, day, _), found in zip(wanted, days, strict=True)
    ]


def day_status(
    db: Bind, site: SitePublic, day: date, counts: DayCounts | None, now: datetime | None = None
) -> DayStatus:
    return day_statuses(db, [(site, day, counts)], now)[0]


def device_health(db: Bind, site_id: str, now: datetime | None = None) -> list[DeviceHealth]:
    now_ms = (now or datetime.now(UTC)).timestamp() * 1000
    with reading(db) as conn:
        rows = conn.execute(
            select(devices, device_status)
            .select_from(devices_with_status)
            .where(devices.c.site_id == site_id)
            .order_by(devices.c.gate)
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
            policy_version=r.policy_version,
            trust_age_hours=round((now_ms - r.trust_fetched_ms) / 3_600_000, 1)
            if r.trust_fetched_ms
            else None,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Contact:
    """When a site's gates were last heard from, and which have gone quiet."""

    last_seen_ms: int | None
    """The latest contact of any of its active gates (None: never)."""
    offline: list[str]
    """Active gates not heard from within the offline limit (or never)."""


def contact_of(gates: Gates | None, active: list[_Device], quiet_before_ms: int) -> Contact:
    """A site's last contact (from its ``gates``) and its gates not heard from since
    ``quiet_before_ms``, named from its ``active`` devices (read only when some are quiet)."""
    if gates is None:
        return Contact(None, [])
    quiet = [d.gate for d in active if d.last_seen_ms is None or d.last_seen_ms < quiet_before_ms]
    return Contact(gates.last_seen_ms, sorted(quiet))


def site_contact(db: Bind, site_id: str, quiet_before_ms: int) -> Contact:
    """One site's contact, for its own page."""
    with reading(db) as conn:
        gates = gates_of(conn, [site_id], quiet_before_ms).get(site_id)
        return contact_of(
            gates, active_devices(conn, [site_id])[site_id] if gates and gates.quiet else [], quiet_before_ms
        )


def _open_counts(conn: Connection, site_ids: Collection[str] | None) -> Select[Any]:
    return (
        select(alerts.c.site_id, func.count().label("n"))
        .where(and_(ALERT_OPEN, _sites_where(conn, alerts.c.site_id, site_ids)))
        .group_by(alerts.c.site_id)
    )


def open_alert_counts(db: Bind, site_ids: Collection[str] | None) -> dict[str, int]:
    """Unacknowledged alerts per site (None: of every site; sites without any are absent)."""
    with reading(db) as conn:
        return {site_id: int(n) for site_id, n in conn.execute(_open_counts(conn, site_ids))}


def _alert_rows(where: ColumnElement[bool], limit: int) -> Any:
    """Alerts with whether a guard later overrode the check to admit (an ``override``
    check of the same device referring to it) and, for a fever, the disposition the gate
    recorded (its ``fever_handled`` record's flags)."""

    def later(reason: str) -> list[ColumnElement[bool]]:
        """A later check of the alert's device, of this reason, acting on the alerted one
        (found through the ``checks_referring`` index, however much later it came)."""
        return [
            checks.c.site_id == alerts.c.site_id,
            checks.c.device_id == alerts.c.device_id,
            checks.c.refers_to == alerts.c.seq,
            checks.c.seq > alerts.c.seq,
            checks.c.reason == reason,
        ]

    overridden = select(checks.c.seq).where(*later("override"), checks.c.verdict == "admit").exists()
    handled = (
        select(checks.c.flags)
        .where(*later("fever_handled"))
        .order_by(checks.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(alerts, overridden.label("overridden"), handled.label("gate_disposition"))
        .where(where)
        .order_by(alerts.c.event_ms.desc(), alerts.c.id.desc())
        .limit(limit)
    )


def open_alerts(db: Bind, site_ids: Sequence[str] | None, limit: int = 100, offset: int = 0) -> list[Alert]:
    """Unacknowledged alerts of these sites (None: all), newest first, ``limit`` of them
    after the first ``offset``."""
    where: ColumnElement[bool] = ALERT_OPEN
    with reading(db) as conn:
        if site_ids is not None:
            where = and_(where, one_of(conn, alerts.c.site_id, site_ids))
        return [_alert(r) for r in conn.execute(_alert_rows(where, limit).offset(offset))]


def _alert(row: Any) -> Alert:
    values = dict(row._mapping)
    disposition = flag_value(values.pop("gate_disposition") or "", "disposition_")
    return Alert.model_validate(values | {"gate_disposition": disposition})


def alert_history(db: Bind, site_id: str, since_ms: int, limit: int = 200) -> list[Alert]:
    """A site's alerts since ``since_ms``, handled or not, newest first: who did what, when."""
    where = and_(alerts.c.site_id == site_id, alerts.c.event_ms >= since_ms)
    with reading(db) as conn:
        return [_alert(r) for r in conn.execute(_alert_rows(where, limit))]


def acknowledge_alert(
    engine: Engine, site_id: str, alert_id: int, username: str, action: str, note: str | None
) -> bool:
    """Record that ``username`` handled an alert, what they did and their note (once: a
    second acknowledgement changes nothing); False when the site has no such alert."""
    this = and_(alerts.c.site_id == site_id, alerts.c.id == alert_id)
    with engine.begin() as conn:
        if conn.scalar(select(alerts.c.id).where(this)) is None:
            return False
        conn.execute(
            update(alerts)
            .where(and_(this, ALERT_OPEN))
            .values(
                acked_by=username,
                acked_at_ms=int(datetime.now(UTC).timestamp() * 1000),
                action=action,
                note=note,
            )
        )
    return True
