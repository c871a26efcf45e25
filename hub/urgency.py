"""Which sites a manager looks at first: late reports, open fevers, silent gates, reports
still waiting, then the rest — so the overview is a worklist, not an alphabet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine

from hub import queries
from hub.queries import Contact
from hub.schemas import DayStatus, SitePublic

Urgency = Literal["late", "alerts_open", "offline", "waiting", "fine"]
ORDER: tuple[Urgency, ...] = ("late", "alerts_open", "offline", "waiting", "fine")


def urgency(yesterday: DayStatus, open_alerts: int, contact: Contact) -> Urgency:
    """The most urgent thing about a site right now."""
    if yesterday.state == "late":
        return "late"
    if open_alerts:
        return "alerts_open"
    if contact.offline:
        return "offline"
    if yesterday.state == "waiting":
        return "waiting"
    return "fine"


def rank(level: Urgency) -> int:
    return ORDER.index(level)


@dataclass(frozen=True)
class Worklist:
    """Every site a user may see, most urgent first, with what decided its place."""

    ordered: list[SitePublic]
    levels: dict[str, Urgency]
    statuses: dict[str, DayStatus]
    """Yesterday's report state of each site (its own yesterday)."""
    contacts: dict[str, Contact]
    open_alerts: dict[str, int]


def worklist(
    engine: Engine, site_list: Sequence[SitePublic], all_sites: bool, now: datetime, offline_after_ms: int
) -> Worklist:
    """The overview's order: a handful of queries over all the sites (contacts, open
    alerts, yesterday's counts and report states), however many there are."""
    ids = [s.id for s in site_list]
    contacts = queries.contacts(engine, ids, int(now.timestamp() * 1000), offline_after_ms)
    open_alerts = queries.open_alert_counts(engine, ids)
    yesterdays = {s.id: queries.site_today(s, now) - timedelta(days=1) for s in site_list}
    first, last = min(yesterdays.values(), default=now.date()), max(yesterdays.values(), default=now.date())
    found = {
        (c.site_id, c.date): c
        for c in queries.overview_counts(engine, None if all_sites else ids, first, last)
    }
    wanted = [(s, yesterdays[s.id], found.get((s.id, yesterdays[s.id].isoformat()))) for s in site_list]
    statuses = {status.site_id: status for status in queries.day_statuses(engine, wanted, now)}
    levels = {s.id: urgency(statuses[s.id], open_alerts.get(s.id, 0), contacts[s.id]) for s in site_list}
    ordered = sorted(site_list, key=lambda s: (rank(levels[s.id]), s.name))
    return Worklist(ordered, levels, statuses, contacts, open_alerts)
