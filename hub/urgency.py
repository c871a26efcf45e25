"""Which sites a manager looks at first: late reports, open fevers, silent gates, reports
still waiting, then the rest — so the overview is a worklist, not an alphabet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub import queries
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


def worklist(found: Sequence[queries.SiteState], now: datetime, quiet_before_ms: int) -> Worklist:
    """The overview's order of the sites ``queries.worklist_sites`` found (a user's, by
    name, each with its gates summed up and its open alerts)."""
    gates = {f.site.id: f.gates for f in found if f.gates}
    states = queries.waiting_states(
        [(f.site, queries.site_today(f.site, now) - timedelta(days=1)) for f in found], now, gates
    )
    levels = {
        f.site.id: urgency(states[f.site.id], f.open_alerts, f.gates.quiet if f.gates else 0) for f in found
    }
    ordered = sorted((f.site for f in found), key=lambda s: (rank(levels[s.id]), s.name))
    open_alerts = {f.site.id: f.open_alerts for f in found if f.open_alerts}
    return Worklist(ordered, levels, states, open_alerts, gates, quiet_before_ms)
