"""A batch's new checks added to its site's daily counts, inside the ingest transaction.

The counts are the checks' own metrics (``hub.counting.tally``) plus the day's first
sight of each person and of the device (``daily_holders``/``daily_devices`` rows not yet
there). The same increments go to what the region rollups await (``rollup_pending``).

On PostgreSQL all of that is **one statement** of constant text (arrays through
``unnest``, prepared once per connection): four statements, two of them pipelined
executemany, were a third of a small upload's database time (docs/hub.md, "Several
processes"). The rows are locked in the order the separate statements locked them —
people, device, counts in key order, then the pending rollups — so uploads of one site
(and a recompute or the rollups' fold) never wait for each other in a cycle. SQLite has
one writer at a time and keeps the plain statements.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection

from hub import rollups
from hub.core.db import daily_counts, daily_devices, daily_holders
from hub.counting import ROLLUP_METRICS, tally
from hub.sql import upsert

_PG_COUNT = f"""
WITH people AS (
    INSERT INTO daily_holders (site_id, local_date, holder)
    SELECT %(site)s, d, h FROM unnest(%(holder_days)s::varchar[], %(holders)s::varchar[]) AS u(d, h)
    ORDER BY d, h
    ON CONFLICT DO NOTHING RETURNING local_date
), gates AS (
    INSERT INTO daily_devices (site_id, local_date, device_id)
    SELECT %(site)s, d, %(device)s FROM unnest(%(device_days)s::varchar[]) AS u(d)
    ORDER BY d
    ON CONFLICT DO NOTHING RETURNING local_date
), increments AS (
    SELECT d AS local_date, m AS metric, n::bigint AS n
    FROM unnest(%(days)s::varchar[], %(metrics)s::varchar[], %(ns)s::integer[]) AS u(d, m, n)
    UNION ALL SELECT local_date, 'holders', count(*) FROM people GROUP BY local_date
    UNION ALL SELECT local_date, 'devices', count(*) FROM gates GROUP BY local_date
), totals AS MATERIALIZED (
    SELECT local_date, metric, sum(n)::integer AS n FROM increments GROUP BY local_date, metric
), pending AS (
    INSERT INTO rollup_pending (site_id, local_date, metric, n)
    SELECT %(site)s, local_date, metric, n FROM totals
    WHERE metric IN ({", ".join(f"'{m}'" for m in ROLLUP_METRICS)}) AND n <> 0
    ORDER BY local_date, metric
    ON CONFLICT (site_id, local_date, metric) DO UPDATE SET n = rollup_pending.n + excluded.n
)
INSERT INTO daily_counts (site_id, local_date, metric, n)
SELECT %(site)s, local_date, metric, n FROM totals ORDER BY local_date, metric
ON CONFLICT (site_id, local_date, metric) DO UPDATE SET n = daily_counts.n + excluded.n
"""
"""The main statement takes the counts' locks; ``pending``, which it does not read, runs
to completion after it (PostgreSQL's order for an unread data-modifying WITH)."""


def count_new_checks(conn: Connection, site_id: str, device_id: str, new_rows: list[dict[str, Any]]) -> None:
    """Add checks the hub did not hold (each with ``local_date``) to the site's counts."""
    if not new_rows:
        return
    counts = tally(new_rows)
    people = sorted({(r["local_date"], r["holder"]) for r in new_rows if r["holder"] is not None})
    days = sorted({r["local_date"] for r in new_rows})
    if conn.dialect.name == "postgresql":
        increments = sorted(counts.items())
        conn.exec_driver_sql(
            _PG_COUNT,
            {
                "site": site_id,
                "device": device_id,
                "holder_days": [d for d, _ in people],
                "holders": [h for _, h in people],
                "device_days": days,
                "days": [d for (d, _), _ in increments],
                "metrics": [m for (_, m), _ in increments],
                "ns": [n for _, n in increments],
            },
        )
        return
    holder_rows = [(site_id, day, holder) for day, holder in people]
    for day, n in _first_seen(conn, daily_holders.name, "holder", holder_rows).items():
        counts[(day, "holders")] += n
    for day, n in _first_seen(
        conn, daily_devices.name, "device_id", [(site_id, d, device_id) for d in days]
    ).items():
        counts[(day, "devices")] += n
    conn.execute(
        upsert(conn, daily_counts, ["site_id", "local_date", "metric"], add=["n"]),
        [
            {"site_id": site_id, "local_date": day, "metric": metric, "n": n}
            for (day, metric), n in sorted(counts.items())
        ],
    )
    rollups.pend(conn, site_id, counts)


def _first_seen(conn: Connection, table: str, key: str, rows: list[tuple[str, str, str]]) -> Counter[str]:
    """SQLite: INSERT OR IGNORE (site, date, key) rows, one statement per day; the driver's
    rowcount is the number that were new (one writer at a time: the device row update
    took the database's write lock)."""
    sql = f"INSERT OR IGNORE INTO {table} (site_id, local_date, {key}) VALUES (?, ?, ?)"
    added: Counter[str] = Counter()
    for day in sorted({row[1] for row in rows}):
        added[day] = conn.exec_driver_sql(sql, [row for row in rows if row[1] == day]).rowcount
    return added
