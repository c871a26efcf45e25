"""Region rollups: the sites' daily counts summed per region, category and local day.

Uploads never write a region's row: a city's row would make every upload in the city wait
on one lock. Instead whatever changes a site's counts (ingest, recompute) adds the same
change to ``rollup_pending`` — per site, in its own transaction — and ``fold`` moves what
is pending into ``region_daily`` for the site's region and every region above it, in one
transaction that one process at a time runs (the hub's lifespan task every
``rollup_every_s``). A site moved to another region or category moves its whole history
with it (``place``). ``rebuild`` recounts everything from the daily counts — the audit
path; tests hold the folded sums equal to it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, and_, delete, func, select, text, tuple_, update

from hub.core.db import (
    daily_counts,
    region_daily,
    region_paths,
    region_sites,
    rollup_pending,
    site_sync,
    sites,
)
from hub.counting import ROLLUP_METRICS
from hub.sql import upsert

NO_CATEGORY = "-"
"""``region_daily.category_id`` of sites not given a category."""

_LOCK_KEY = 0x6761746563686B  # "gatechk": the PostgreSQL advisory lock the folding holds
_CHUNK = 500

Delta = tuple[str, str, str, int]
"""(site id, local date, metric, change)."""


def pend(conn: Connection, site_id: str, increments: Mapping[tuple[str, str], int]) -> None:
    """Add a site's count changes ((local date, metric) → change) to what is pending, in
    the caller's transaction (the one that changed the counts)."""
    rows = [
        {"site_id": site_id, "local_date": day, "metric": metric, "n": n}
        for (day, metric), n in sorted(increments.items())
        if metric in ROLLUP_METRICS and n
    ]
    if rows:
        conn.execute(upsert(conn, rollup_pending, ["site_id", "local_date", "metric"], add=["n"]), rows)


def _lock(conn: Connection, wait: bool) -> bool:
    """The folding's lock (PostgreSQL; SQLite has one writer at a time anyway)."""
    if conn.dialect.name != "postgresql":
        return True
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        return True
    return bool(conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def _placements(conn: Connection, site_ids: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """Each placed site's category and its region with every region above it."""
    found: dict[str, tuple[str, list[str]]] = {}
    ids = sorted(set(site_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(sites.c.id, sites.c.category_id, region_paths.c.ancestor_id)
            .join(region_paths, region_paths.c.region_id == sites.c.region_id)
            .where(sites.c.id.in_(ids[start : start + _CHUNK]))
        )
        for site_id, category, ancestor in rows:
            found.setdefault(site_id, (category or NO_CATEGORY, []))[1].append(ancestor)
    return found


def _add(conn: Connection, deltas: Iterable[Delta], where: Mapping[str, tuple[str, list[str]]]) -> None:
    """Add site deltas to the rollups of the placements given (sites not there: none)."""
    sums: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for site_id, day, metric, n in deltas:
        if site_id in where:
            category, ancestors = where[site_id]
            for region_id in ancestors:
                sums[(region_id, category, day)][metric] += n
    rows = [
        {"region_id": r, "category_id": c, "local_date": d} | {m: counts[m] for m in ROLLUP_METRICS}
        for (r, c, d), counts in sorted(sums.items())
    ]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(
            upsert(conn, region_daily, ["region_id", "local_date", "category_id"], add=list(ROLLUP_METRICS)),
            rows[start : start + _CHUNK],
        )


_PENDING_KEY = (rollup_pending.c.site_id, rollup_pending.c.local_date, rollup_pending.c.metric)
_TAKE = delete(rollup_pending).returning(*_PENDING_KEY, rollup_pending.c.n)
_TAKE_UNLOCKED = _TAKE.where(
    tuple_(*_PENDING_KEY).in_(select(*_PENDING_KEY).with_for_update(skip_locked=True))
)
"""On PostgreSQL the fold takes only rows no upload holds right now (SKIP LOCKED), so it
never waits on an upload: an upload locks its site's pending rows in key order, a plain
DELETE locks them in whatever order it scans them, and the two would deadlock. What is
skipped is folded the next round."""


def fold(engine: Engine) -> int:
    """Move everything pending into the region rollups; returns the site deltas folded (0
    also when another process is folding right now)."""
    with engine.begin() as conn:
        if not _lock(conn, wait=False):
            return 0
        take = _TAKE_UNLOCKED if conn.dialect.name == "postgresql" else _TAKE
        taken: list[Delta] = [(r.site_id, r.local_date, r.metric, r.n) for r in conn.execute(take)]
        if taken:
            _add(conn, taken, _placements(conn, {d[0] for d in taken}))
    return len(taken)


def _site_counts(conn: Connection, site_id: str) -> list[Delta]:
    """The site's rolled-up daily counts, locked: an upload of the site changing them now
    finishes first, one starting now waits for the caller's transaction."""
    rows = conn.execute(
        select(daily_counts.c.local_date, daily_counts.c.metric, daily_counts.c.n)
        .where(daily_counts.c.site_id == site_id, daily_counts.c.metric.in_(ROLLUP_METRICS))
        .order_by(daily_counts.c.local_date, daily_counts.c.metric)  # an upload's lock order
        .with_for_update()
    )
    return [(site_id, day, metric, n) for day, metric, n in rows]


def place(conn: Connection, site_id: str, region_id: str | None, category_id: str | None) -> None:
    """Put a site in a region and category, its whole history with it: its counts leave
    the rollups of the old place (what was folded there) and join the new one's."""
    _lock(conn, wait=True)
    before = _placements(conn, [site_id])
    counts = _site_counts(conn, site_id)
    pending = Counter(
        {
            (r.local_date, r.metric): r.n
            for r in conn.execute(
                delete(rollup_pending)
                .where(rollup_pending.c.site_id == site_id)
                .returning(rollup_pending.c.local_date, rollup_pending.c.metric, rollup_pending.c.n)
            )
        }
    )
    folded = [(s, d, m, n - pending[(d, m)]) for s, d, m, n in counts]
    _add(conn, [(s, d, m, -n) for s, d, m, n in folded], before)
    conn.execute(
        update(sites).where(sites.c.id == site_id).values(region_id=region_id, category_id=category_id)
    )
    conn.execute(update(site_sync).where(site_sync.c.site_id == site_id).values(region_id=region_id))
    after = _placements(conn, [site_id])
    _add(conn, counts, after)
    count_site(conn, before.get(site_id), -1)
    count_site(conn, after.get(site_id), +1)


def count_site(conn: Connection, placement: tuple[str, list[str]] | None, change: int) -> None:
    """A site joins (+1) or leaves (−1) the site counts of a placement — its category in
    its region and every region above (none: not placed)."""
    if placement is None:
        return
    category, ancestors = placement
    rows = [{"region_id": r, "category_id": category, "sites": change} for r in sorted(ancestors)]
    conn.execute(upsert(conn, region_sites, ["region_id", "category_id"], add=["sites"]), rows)


def placement_of(conn: Connection, site_id: str) -> tuple[str, list[str]] | None:
    """A site's category and its region with every region above (None: not placed)."""
    return _placements(conn, [site_id]).get(site_id)


def rebuild(engine: Engine) -> int:
    """Recount every rollup from the sites' daily counts (after a restore, or to audit the
    folded sums); returns the rollup rows written."""
    with engine.begin() as conn:
        _lock(conn, wait=True)
        conn.execute(delete(rollup_pending))
        conn.execute(delete(region_daily))
        sums = (
            select(
                region_paths.c.ancestor_id, sites.c.category_id, daily_counts.c.local_date,
                *(func.sum(daily_counts.c.n).filter(daily_counts.c.metric == m) for m in ROLLUP_METRICS),
            )
            .select_from(
                sites.join(region_paths, region_paths.c.region_id == sites.c.region_id).join(
                    daily_counts,
                    and_(daily_counts.c.site_id == sites.c.id, daily_counts.c.metric.in_(ROLLUP_METRICS)),
                )
            )
            .group_by(region_paths.c.ancestor_id, sites.c.category_id, daily_counts.c.local_date)
        )  # fmt: skip
        keys = ["region_id", "category_id", "local_date", *ROLLUP_METRICS]
        rows = [
            dict(zip(keys, [region, category or NO_CATEGORY, day, *(n or 0 for n in sums_)], strict=True))
            for region, category, day, *sums_ in conn.execute(sums)
        ]
        for start in range(0, len(rows), _CHUNK):
            conn.execute(
                upsert(
                    conn, region_daily, ["region_id", "local_date", "category_id"], add=list(ROLLUP_METRICS)
                ),
                rows[start : start + _CHUNK],
            )
    return len(rows)
