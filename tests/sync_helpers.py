"""Helpers for sync tests: fill a device log fast, compare what the hub holds with it."""

from __future__ import annotations

import hashlib
from collections import Counter

from sqlalchemy import Engine, func, select

from edge import clock
from edge.store import CheckStore, NewCheck
from hub.core.db import checks, daily_counts
from hub.counting import VERDICT_METRICS


def fill(store: CheckStore, device_id: str, n: int, urgent_every: int = 0, gate: str = "North") -> None:
    """Append ``n`` real checks; every ``urgent_every``-th is a confirmed fever."""
    for i in range(1, n + 1):
        now = clock.now()
        fever = urgent_every and i % urgent_every == 0
        store.append(
            NewCheck(
                device_id=device_id,
                gate=gate,
                wall_ms=now.wall_ms,
                mono_ms=now.mono_ms,
                boot_id=now.boot_id,
                verdict="deny" if fever else "admit",
                reason="fever" if fever else "ok",
                temp_c=38.4 if fever else 36.5,
                temp_source="sensor",
                scheme="gc1",
                holder=hashlib.sha256(b"%d" % i).hexdigest()[:32],
                engine="zxing",
                urgent=bool(fever),
            )
        )


def edge_totals(store: CheckStore) -> Counter[str]:
    totals: Counter[str] = Counter()
    for row in store.rows():
        totals["checks"] += 1
        totals[VERDICT_METRICS[row["verdict"]]] += 1
        if row["reason"] == "fever":
            totals["fevers"] += 1
    return totals


def hub_totals(engine: Engine, device_id: str) -> tuple[Counter[str], list[int]]:
    """The hub's daily counts summed over days, and the seqs it holds for the device."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(daily_counts.c.metric, func.sum(daily_counts.c.n)).group_by(daily_counts.c.metric)
        )
        compared = {"checks", "admitted", "denied", "remeasure", "manual", "fevers"}
        totals = Counter({metric: int(n) for metric, n in rows if metric in compared})
        seqs = list(
            conn.scalars(select(checks.c.seq).where(checks.c.device_id == device_id).order_by(checks.c.seq))
        )
    return totals, seqs
