"""Charts drawn on the server as SVG geometry: no JavaScript, no CDN, works offline."""

from __future__ import annotations

from dataclasses import dataclass

from hub.schemas import DayCounts


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    fevers: int


AXIS_LEFT = 44
"""Room left of the bars for the count axis's labels."""


def peak_of(counts: dict[str, DayCounts]) -> int:
    """The busiest day's checks: the top of the count axis (1 when there are none)."""
    return max((c.checks for c in counts.values()), default=0) or 1


def daily_bars(
    days: list[str], counts: dict[str, DayCounts], width: int = 720, height: int = 160
) -> list[Bar]:
    """One bar per day (oldest first) scaled to the busiest day; missing days get none.
    The bars start at ``AXIS_LEFT`` (the axis and its labels are left of them)."""
    peak = peak_of(counts)
    slot = (width - AXIS_LEFT) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        found = counts.get(day)
        value = found.checks if found else 0
        bar_height = (height - 20) * value / peak
        bars.append(
            Bar(
                AXIS_LEFT + i * slot + 2,
                height - bar_height,
                slot - 4,
                bar_height,
                day[5:],
                value,
                found.fevers if found else 0,
            )
        )
    return bars
