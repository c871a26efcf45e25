"""Rebuild a site's daily counts from the raw checks, for any range of local dates.

Incremental counting at ingest is the normal path; this is the audit path (and the repair
path after a counting rule changes). It uses the same ``metrics_for`` and must give the
same numbers — a test holds it to that.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Engine, and_, delete, insert, select

from hub import rollups
from hub.core.db import checks, daily_counts, daily_devices, daily_holders
from hub.counting import tally


def recompute(engine: Engine, site_id: str, start: date, end: date) -> int:
    """Replace the counts of ``site_id`` for local dates in [start, end]; returns checks seen."""
    first, last = start.isoformat(), end.isoformat()
    with engine.begin() as conn:
        in_range = and_(daily_counts.c.site_id == site_id, daily_counts.c.local_date.between(first, last))
        before = Counter(
            {(d, m): n for d, m, n in conn.execute(select(daily_counts.c.local_date, daily_counts.c.metric,
                                                          daily_counts.c.n).where(in_range))}
        )  # fmt: skip
        for table in (daily_counts, daily_holders, daily_devices):
            conn.execute(
                delete(table).where(and_(table.c.site_id == site_id, table.c.local_date.between(first, last)))
            )
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(checks).where(
                    and_(checks.c.site_id == site_id, checks.c.local_date.between(first, last))
                )
            )
        ]
        counts: Counter[tuple[str, str]] = tally(rows)
        holders = {(r["local_date"], r["holder"]) for r in rows if r["holder"]}
        device_days = {(r["local_date"], r["device_id"]) for r in rows}
        for day, _ in holders:
            counts[(day, "holders")] += 1
        for day, _ in device_days:
            counts[(day, "devices")] += 1
        if holders:
            conn.execute(
                insert(daily_holders),
                [{"site_id": site_id, "local_date": d, "holder": h} for d, h in holders],
            )
        if device_days:
            conn.execute(
                insert(daily_devices),
                [{"site_id": site_id, "local_date": d, "device_id": i} for d, i in device_days],
            )
        if counts:
            conn.execute(
                insert(daily_counts),
                [{"site_id": site_id, "local_date": d, "metric": m, "n": n} for (d, m), n in counts.items()],
            )
        # The regions' rollups follow by the difference (hub/rollups.py).
        rollups.pend(conn, site_id, {key: counts[key] - before[key] for key in counts.keys() | before.keys()})
    return len(rows)
