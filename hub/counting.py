"""What a check adds to its site's daily counts — one definition for ingest and recompute.

Counts are stored as (site, local date, metric) → n so that a new reason code needs no
schema change. A metric is named as the field of the day report it fills
(``hub.schemas.DayCounts``), so nothing is renamed on the way out: ``checks``, the
verdicts (``admitted``, ``denied``, ``remeasure``, ``manual``), ``deny:<reason>``, the
``metric`` a reason has in ``core.reasons`` (``fevers``, ``code_red``, ``refused``,
``visitors``), ``overrides``, ``temp_manual`` (temperature typed by hand), ``gate:<gate>``
and ``hour:<HH>`` (checks per entrance and per local hour), ``complete`` and
``incomplete:<part>`` (admissions with all four checks done properly, or with that part
missing or hand-made: ``core.four_checks``), and — counted from their own tables —
``holders`` (unique people) and ``devices`` (devices reporting).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from core.four_checks import VEHICLE_ENTRY, category_of, missing_parts
from core.protocol import GATE_MAX
from core.reasons import reason as reason_of


class LocalDays:
    """Local (date, hour) of instants in one site's timezone, for a whole batch. UTC
    offsets change only on whole minutes, so a local date and hour never change within a
    UTC minute: one zone lookup per distinct minute serves every check in it."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def of(self, instants_ms: list[int]) -> list[tuple[str, int]]:
        """(local date, local hour) of each instant, in order."""
        minutes = [ms // 60_000 for ms in instants_ms]
        local = {minute: self._local(minute) for minute in set(minutes)}
        return [local[minute] for minute in minutes]

    def _local(self, minute: int) -> tuple[str, int]:
        moment = datetime.fromtimestamp(minute * 60, tz=UTC).astimezone(self.tz)
        return moment.date().isoformat(), moment.hour


LOG_REPLACED, LOG_CONFLICT = "log_replaced", "log_conflict"
"""Alerts about a device's check log: it started again (checks lost), or sent a seq the hub
holds with other content."""

METRIC_MAX = len("gate:") + GATE_MAX
"""The longest metric name (``gate:<gate>``): the width of the metric column."""


ROLLUP_METRICS = (
    "checks", "admitted", "denied", "fevers", "code_red", "refused",
    "holders", "overrides", "temp_manual", "visitors", "devices",
    "complete", "exits", "handovers", "vehicles",
)  # fmt: skip
"""The daily metrics also summed per region, category and day (``region_daily``, one column
each, hub/rollups.py): sums of sites' counts, so a region's ``holders`` counts each person
once per site they entered and ``devices`` is the gates reporting."""

VERDICT_METRICS = {"admit": "admitted", "deny": "denied", "remeasure": "remeasure", "manual": "manual"}
"""Each verdict's daily count, named as the day report's field (``hub.schemas.DayCounts``)."""


DENIED = "deny:"
"""The prefix of a day's count of refusals for one reason (``deny:fever``)."""


def metrics_for(check: Mapping[str, Any]) -> list[str]:
    """The metrics one check increments (``local_hour`` must be set); an event (what was
    done about an earlier check, a person leaving) is no check: only its own metric."""
    found = reason_of(check["reason"])
    if found.event:
        return [found.metric] if found.metric else []
    verdict, gate, hour = VERDICT_METRICS[check["verdict"]], check["gate"], check["local_hour"]
    metrics = ["checks", verdict, f"gate:{gate}", f"hour:{hour:02d}"]
    reason = check["reason"]
    if check["verdict"] == "deny":
        metrics.append(DENIED + reason)
    if metric := reason_of(reason).metric:
        metrics.append(metric)
    flags = check.get("flags") or ""
    if "override" in flags:
        metrics.append("overrides")
    if VEHICLE_ENTRY in flags:
        metrics.append("vehicles")
    if check["temp_source"] == "manual":
        metrics.append("temp_manual")
    if check["verdict"] == "admit":
        metrics += [f"incomplete:{part}" for part in missing_parts(check)] or ["complete"]
    if category := category_of(check.get("flags")):
        metrics.append(f"person:{category}")
        if category == "visitor" and check["verdict"] == "admit" and reason != "visitor":
            metrics.append("visitors")  # a visitor who passed the checks (older gates: reason visitor)
    return metrics


def tally(checks: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(local_date, metric) → count over checks that already carry ``local_date``.
    Checks are grouped first by what decides their metrics (a batch has few such kinds),
    so the metric rules run once per kind rather than once per check."""
    fields = ("local_date", "local_hour", "verdict", "reason", "gate", "flags", "temp_source", "scheme")
    kinds = Counter(map(itemgetter(*fields), checks))
    counts: Counter[tuple[str, str]] = Counter()
    for kind, n in kinds.items():
        check: dict[str, Any] = dict(zip(fields, kind, strict=True))
        for metric in metrics_for(check):
            counts[(check["local_date"], metric)] += n
    return counts
