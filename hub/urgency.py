"""Which sites a manager looks at first: late reports, open fevers, silent gates, reports
still waiting, then the rest — so the overview is a worklist, not an alphabet."""

from __future__ import annotations

from typing import Literal

from hub.queries import Contact
from hub.schemas import DayStatus

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
