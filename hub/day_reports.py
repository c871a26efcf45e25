"""The daily report a site hands in: what it says for one site and local day, assembled
from the daily counts, the report status, the fever alerts (followed through to their
disposition) and the manager's confirmation — the one source for the PDF, the Excel file
and the page. A zero report is a complete day with nothing to report (000:37, 002:793)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from hub import queries
from hub.core.db import Bind, alerts, organisations, reading, report_confirmations, sites
from hub.fever_cases import fever_case
from hub.schemas import DayCounts, DayStatus, SitePublic
from hub.sql import one_of


@dataclass(frozen=True)
class FeverLine:
    gate: str
    event_ms: int
    temp_c: float | None
    disposition: str | None


@dataclass(frozen=True)
class Confirmation:
    username: str
    confirmed_ms: int
    state: str


@dataclass(frozen=True)
class DayReport:
    site: SitePublic
    organisation: str
    date: str
    status: DayStatus
    counts: DayCounts | None
    fevers: list[FeverLine]
    confirmation: Confirmation | None


def _day_ms(day: date, timezone: str) -> tuple[int, int]:
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time(0, 0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def day_reports(engine: Engine, site_list: Sequence[SitePublic], day: date) -> list[DayReport]:
    """The reports of these sites for one local day, in the order given."""
    ids = [s.id for s in site_list]
    counts = {c.site_id: c for c in queries.daily(engine, ids, day, day)}
    statuses = queries.day_statuses(engine, [(s, day, counts.get(s.id)) for s in site_list])
    with engine.connect() as conn:
        orgs = dict(
            conn.execute(
                select(sites.c.id, organisations.c.name)
                .join(organisations, organisations.c.id == sites.c.org_id)
                .where(sites.c.id.in_(ids))
            ).all()
        )
        confirmed = {
            r.site_id: Confirmation(r.username, r.confirmed_ms, r.state)
            for r in conn.execute(
                select(report_confirmations).where(
                    report_confirmations.c.site_id.in_(ids),
                    report_confirmations.c.local_date == day.isoformat(),
                )
            )
        }
        raised: dict[str, list[tuple[str, int, int, str, float | None]]] = {s.id: [] for s in site_list}
        for site in site_list:
            start, end = _day_ms(day, site.timezone)
            for row in conn.execute(
                select(alerts.c.device_id, alerts.c.seq, alerts.c.event_ms, alerts.c.gate, alerts.c.temp_c)
                .where(and_(alerts.c.site_id == site.id, alerts.c.reason == "fever"))
                .where(alerts.c.event_ms >= start, alerts.c.event_ms < end)
                .order_by(alerts.c.event_ms)
            ):
                raised[site.id].append(tuple(row))
    reports = []
    for site, status in zip(site_list, statuses, strict=True):
        fevers = []
        for device_id, seq, event_ms, gate, temp_c in raised[site.id]:
            case = fever_case(engine, site.id, device_id, seq)
            fevers.append(FeverLine(gate, event_ms, temp_c, case.disposition if case else None))
        reports.append(
            DayReport(site, orgs.get(site.id, ""), day.isoformat(), status, counts.get(site.id), fevers,
                      confirmed.get(site.id))
        )  # fmt: skip
    return reports


def confirmations(db: Bind, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Confirmation]:
    """The confirmations recorded for these (site id, local date) pairs."""
    if not wanted:
        return {}
    ids = sorted({site_id for site_id, _ in wanted})
    dates = sorted({day for _, day in wanted})
    with reading(db) as conn:
        rows = conn.execute(
            select(report_confirmations).where(
                one_of(conn, report_confirmations.c.site_id, ids),
                one_of(conn, report_confirmations.c.local_date, dates),
            )
        ).all()
    found = {(r.site_id, r.local_date): Confirmation(r.username, r.confirmed_ms, r.state) for r in rows}
    return {key: found[key] for key in wanted if key in found}


def confirm(engine: Engine, report: DayReport, username: str, now: datetime | None = None) -> Confirmation:
    """Record that ``username`` checked and confirmed a complete day's report (once: a
    second confirmation keeps the first). Raises ValueError for a day not yet complete."""
    if report.status.state not in ("zero_report", "reported"):
        raise ValueError(f"the report for {report.date} is not complete yet ({report.status.state})")
    at_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    row = {"site_id": report.site.id, "local_date": report.date, "state": report.status.state,
           "username": username, "confirmed_ms": at_ms}  # fmt: skip
    with engine.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(report_confirmations).on_conflict_do_nothing(), [row])
        stored = conn.execute(
            select(report_confirmations).where(
                report_confirmations.c.site_id == report.site.id,
                report_confirmations.c.local_date == report.date,
            )
        ).one()
    return Confirmation(stored.username, stored.confirmed_ms, stored.state)
