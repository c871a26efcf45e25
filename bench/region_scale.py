"""A province for bench/hub.py's region section: a region tree, sites placed in it, a year
of region rollups, each site's report completeness, gates, alerts — written straight into
the tables (the ingest path is measured elsewhere), then the region page's reads timed
against the baseline they replace: summing every site's daily counts on each request.

The tree: 1 province → 10 cities → 10 districts each → 10 streets each (1,111 regions),
sites spread evenly over the streets, each one of the eight categories. A year of rollups
is one day written from Python and the other days copied by the database itself
(INSERT … SELECT), so 100,000 sites × 365 days loads in minutes, not hours.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, literal, select, text

from hub import region_overview
from hub.core.db import (
    alerts,
    categories,
    create_schema,
    daily_counts,
    device_status,
    devices,
    organisations,
    refresh_statistics,
    region_daily,
    region_paths,
    region_sites,
    regions,
    site_sync,
    sites,
)
from hub.counting import ROLLUP_METRICS
from hub.regions import sites_below

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai: yesterday's reports were due at noon
CHUNK = 5000


def _chunks(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])


def load(engine: Engine, n_sites: int, n_days: int) -> dict[str, str]:
    """Fill the tables; returns the ids of a province, a city and a street to open."""
    create_schema(engine)
    rng = random.Random(7)
    with engine.connect() as conn:
        kinds = list(conn.scalars(select(categories.c.id).order_by(categories.c.position)))
    tree: list[dict[str, Any]] = [{"id": "r", "parent_id": None, "name": "省", "created_ms": 0}]
    paths = [{"ancestor_id": "r", "region_id": "r", "depth": 0}]
    streets: list[str] = []
    for c in range(10):
        city = f"r{c}"
        tree.append({"id": city, "parent_id": "r", "name": f"市{c}", "created_ms": 0})
        paths += [{"ancestor_id": a, "region_id": city, "depth": d} for a, d in ((city, 0), ("r", 1))]
        for d in range(10):
            district = f"{city}.{d}"
            tree.append({"id": district, "parent_id": city, "name": f"区{c}.{d}", "created_ms": 0})
            paths += [{"ancestor_id": a, "region_id": district, "depth": n}
                      for a, n in ((district, 0), (city, 1), ("r", 2))]  # fmt: skip
            for s in range(10):
                street = f"{district}.{s}"
                streets.append(street)
                tree.append(
                    {"id": street, "parent_id": district, "name": f"街道{c}.{d}.{s}", "created_ms": 0}
                )
                paths += [{"ancestor_id": a, "region_id": street, "depth": n}
                          for a, n in ((street, 0), (district, 1), (city, 2), ("r", 3))]  # fmt: skip
    now_ms = int(NOW.timestamp() * 1000)
    noon_today = now_ms - 2 * 3600_000
    site_rows, sync_rows, device_rows, status_rows = [], [], [], []
    for i in range(n_sites):
        site_id = f"s{i:06d}"
        site_rows.append({
            "id": site_id, "org_id": "org-bench", "name": f"场所 {i:06d}", "timezone": "Asia/Shanghai",
            "report_deadline": "12:00", "pseudonym_key": b"k" * 32, "created_at_ms": 0,
            "region_id": streets[i % len(streets)], "category_id": kinds[i % len(kinds)],
        })  # fmt: skip
        late = rng.random() < 0.02  # 2 % late with yesterday's report, 1 % without a gate
        no_gate = not late and rng.random() < 0.01
        due = None if no_gate else noon_today - 86_400_000 if late else noon_today + 86_400_000
        until = None if no_gate else now_ms
        sync_rows.append({"site_id": site_id, "complete_until_ms": until, "due_ms": due,
                          "region_id": site_rows[-1]["region_id"]})  # fmt: skip
        if not no_gate:
            gate = f"d{i:06d}"
            device_rows.append({"id": gate, "site_id": site_id, "gate": "North", "public_key": b"p" * 32,
                                "status": "active", "created_at_ms": 0})  # fmt: skip
            seen = now_ms - (7200_000 if rng.random() < 0.01 else 60_000)  # 1 % quiet for two hours
            status_rows.append({"site_id": site_id, "device_id": gate, "last_seen_ms": seen,
                                "last_boot_id": "b", "clock_skew_ms": 0, "backlog": 0})  # fmt: skip
    alert_rows = [
        {"site_id": f"s{rng.randrange(n_sites):06d}", "id": k, "device_id": "d", "seq": k, "gate": "North",
         "reason": "fever", "temp_c": 38.0, "event_ms": now_ms - k * 1000, "received_ms": now_ms,
         "acked_by": None if k < 200 else "m", "acked_at_ms": None if k < 200 else now_ms}
        for k in range(max(1000, n_sites))
    ]  # fmt: skip
    above = {p["region_id"]: [] for p in paths}
    for p in paths:
        above[p["region_id"]].append(p["ancestor_id"])
    counted = Counter((a, s["category_id"]) for s in site_rows for a in above[s["region_id"]])
    counts = [{"region_id": r, "category_id": k, "sites": n} for (r, k), n in counted.items()]
    with engine.begin() as conn:
        conn.execute(insert(organisations).values(id="org-bench", name="Bench org", created_at_ms=0))
        _chunks(conn, region_sites, counts)
        _chunks(conn, regions, tree)
        _chunks(conn, region_paths, paths)
        for table, rows in ((sites, site_rows), (site_sync, sync_rows), (devices, device_rows),
                            (device_status, status_rows), (alerts, alert_rows)):  # fmt: skip
            _chunks(conn, table, rows)
    # One day of rollups for every region and category, then the year copied from it.
    first = [
        {"region_id": r["id"], "category_id": k, "local_date": TODAY.isoformat()}
        | {m: rng.randint(0, 5000) for m in ROLLUP_METRICS}
        for r in tree
        for k in kinds
    ]
    with engine.begin() as conn:
        _chunks(conn, region_daily, first)
    for back in range(1, n_days):
        day = (TODAY - timedelta(days=back)).isoformat()
        copied = select(
            region_daily.c.region_id, region_daily.c.category_id, literal(day),
            *((region_daily.c[m] + back) % 5000 for m in ROLLUP_METRICS),
        ).where(region_daily.c.local_date == TODAY.isoformat())  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(region_daily).from_select(["region_id", "category_id", "local_date",
                                                           *ROLLUP_METRICS], copied))  # fmt: skip
    # The baseline's input: every site's counts of the day shown.
    with engine.begin() as conn:
        _chunks(conn, daily_counts, [
            {"site_id": s["id"], "local_date": TODAY.isoformat(), "metric": m, "n": rng.randint(0, 900)}
            for s in site_rows for m in ("checks", "admitted", "denied", "fevers", "code_red")
        ])  # fmt: skip
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))  # as autovacuum would have by now
    refresh_statistics(engine)  # as the hub does hourly (SQLite)
    return {"province": "r", "city": "r0", "street": streets[0]}


def recount(engine: Engine, region_id: str) -> object:
    """The baseline: the region's day summed from every site's daily counts on request."""
    with engine.connect() as conn:
        below = sites_below(conn, [region_id])
        return conn.execute(
            select(sites.c.category_id, daily_counts.c.metric, daily_counts.c.n)
            .join(daily_counts, daily_counts.c.site_id == sites.c.id)
            .join(region_paths, region_paths.c.region_id == sites.c.region_id)
            .where(region_paths.c.ancestor_id == region_id, daily_counts.c.local_date == TODAY.isoformat())
        ).all(), len(below)


def reads(engine: Engine, ids: dict[str, str]) -> list[tuple[str, Callable[[], object]]]:
    """The timed reads: each region page's whole overview, and the baseline."""
    now_ms = int(NOW.timestamp() * 1000)

    def page(region_id: str) -> Callable[[], object]:
        return lambda: region_overview.overview(engine, region_id, TODAY, now_ms, 30 * 60_000)

    return [
        ("region page: province", page(ids["province"])),
        ("region page: city", page(ids["city"])),
        ("region page: street", page(ids["street"])),
        ("baseline: recount province", lambda: recount(engine, ids["province"])),
    ]
