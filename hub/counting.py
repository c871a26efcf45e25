"""What a check adds to its site's daily counts — one definition for ingest and recompute.

Counts are stored as (site, local date, metric) → n so that a new reason code needs no
schema change. Metric names: ``checks``, the verdicts (``admit``, ``deny``, ``remeasure``,
``manual``), ``deny:<reason>``, ``fever`` and ``temp_manual`` (temperature typed by hand).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

VERDICTS = ("admit", "deny", "remeasure", "manual")


def local_time(wall_ms: int, tz: ZoneInfo) -> datetime:
    """The site-local time of an instant."""
    return datetime.fromtimestamp(wall_ms / 1000, tz=UTC).astimezone(tz)


def metrics_for(check: Mapping[str, Any]) -> list[str]:
    """The metrics one check increments."""
    metrics = ["checks", check["verdict"]]
    if check["verdict"] == "deny":
        metrics.append(f"deny:{check['reason']}")
    if check["reason"] == "fever":
        metrics.append("fever")
    if check["temp_source"] == "manual":
        metrics.append("temp_manual")
    return metrics


def tally(checks: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(local_date, metric) → count over checks that already carry ``local_date``."""
    counts: Counter[tuple[str, str]] = Counter()
    for check in checks:
        for metric in metrics_for(check):
            counts[(check["local_date"], metric)] += 1
    return counts
