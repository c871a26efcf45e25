"""Which sites a manager looks at first: late reports, open fevers, silent gates, reports
still waiting, then the rest — so the overview is a worklist, not an alphabet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub import queries
from hub.core.db import Bind
from hub.schemas import DayState, SitePublic

Urgency = Literal["late", "alerts_open", "offline", "waiting", "fine"]
ORDER: tuple[Urgency, ...] = ("late", "alerts_open", "offline", "waiting", "fine")


def urgency(yesterday: DayState, open_alerts: int, quiet_gates: int) -> Urgency:
    """The most urgent thing about a site right now (``yesterday``: its report's state)."""
    if yesterday == "late":
        return "late"
    if open_alerts:
        return "alerts_open"
    if quiet_gates:
        return "offline"
    if yesterday == "waiting":
        return "waiting"
    return "fine"


def rank(level: Urgency) -> int:
    return ORDER.index(level)


@dataclass(frozen=True)
class Worklist:
    """Every site a user may see, most urgent first, with what decided its place."""

    ordered: list[SitePublic]
    levels: dict[str, Urgency]
    yesterdays: dict[str, DayState]
    """Each site's report state for its yesterday, as far as completeness goes."""
    open_alerts: dict[str, int]
    gates: dict[str, queries.Gates]
    """The sites' active gates summed up, for the report states of the rows a page shows."""
    quiet_before_ms: int
    """Gates not heard from since are offline."""

    def to_name(self, sites: Sequence[SitePublic]) -> list[str]:
        """Those of ``sites`` whose gates a row names: some are offline, or behind yesterday."""
        return [
            s.id
            for s in sites
            if (s.id in self.gates and self.gates[s.id].quiet) or self.yesterdays[s.id] in ("waiting", "late")
        ]


def worklist(
    db: Bind, site_list: Sequence[SitePublic], now: datetime, offline_after_ms: int, every: bool = False
) -> Worklist:
    """The overview's order: two queries over all the sites (their active gates summed up
    per site, open alerts), however many there are; ``every``: they are all the hub's
    sites (no list of ids sent)."""
    ids = [s.id for s in site_list]
    quiet_before_ms = int(now.timestamp() * 1000) - offline_after_ms
    gates = queries.gates_of(db, ids, quiet_before_ms, every)
    open_alerts = queries.open_alert_counts(db, ids, every)
    yesterdays = [(s, queries.site_today(s, now) - timedelta(days=1)) for s in site_list]
    states = queries.waiting_states(yesterdays, now, gates)
    levels = {
        s.id: urgency(states[s.id], open_alerts.get(s.id, 0), gates[s.id].quiet if s.id in gates else 0)
        for s in site_list
    }
    ordered = sorted(site_list, key=lambda s: (rank(levels[s.id]), s.name))
    return Worklist(ordered, levels, states, open_alerts, gates, quiet_before_ms)
