"""Idempotent ingest of a device's batch, with the site's daily counts kept in step.

Everything happens in one transaction: the raw checks (unique on device id + seq), the
count increments for only the checks that were new, and the device's acknowledged seq.
A batch sent twice — after a timeout, a retry, a duplicated packet — therefore counts once.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.core.db import checks, daily_counts, devices, sites
from hub.counting import local_time, tally
from sync.protocol import BatchAck, BatchIn


class IngestError(Exception):
    """A batch the hub refuses (it names why)."""


def _upsert_counts(conn: Connection, site_id: str, increments: dict[tuple[str, str], int]) -> None:
    if not increments:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(daily_counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=[daily_counts.c.site_id, daily_counts.c.local_date, daily_counts.c.metric],
        set_={"n": daily_counts.c.n + stmt.excluded.n},
    )
    conn.execute(
        stmt,
        [
            {"site_id": site_id, "local_date": day, "metric": metric, "n": n}
            for (day, metric), n in sorted(increments.items())
        ],
    )


def ingest_batch(engine: Engine, device_id: str, batch: BatchIn, received_ms: int) -> BatchAck:
    """Store a batch from an authenticated device and say how far it may advance."""
    if batch.device_id != device_id:
        raise IngestError(f"batch is for device {batch.device_id}, signed by {device_id}")
    seqs = [c.seq for c in batch.checks]
    if seqs != sorted(set(seqs)) or (seqs and seqs[0] <= batch.after_seq):
        raise IngestError("checks must have increasing seq numbers above after_seq")

    with engine.begin() as conn:
        # Updating the device row first takes its lock (a row lock on PostgreSQL, the write
        # lock on SQLite), so two uploads from one device never interleave.
        conn.execute(
            update(devices)
            .where(devices.c.id == device_id)
            .values(
                last_seen_ms=received_ms,
                last_boot_id=batch.boot_id,
                clock_skew_ms=batch.sent_wall_ms - received_ms,
                software=batch.software or None,
            )
        )
        device = conn.execute(
            select(devices.c.site_id, devices.c.acked_seq, sites.c.timezone)
            .join(sites, sites.c.id == devices.c.site_id)
            .where(devices.c.id == device_id)
        ).one()
        held = set()
        if seqs:
            held = set(
                conn.scalars(
                    select(checks.c.seq).where(
                        and_(checks.c.device_id == device_id, checks.c.seq.between(seqs[0], seqs[-1]))
                    )
                )
            )
        tz = ZoneInfo(device.timezone)
        new_rows: list[dict[str, Any]] = []
        for check in batch.checks:
            if check.seq in held:
                continue
            when = local_time(check.wall_ms, tz)
            new_rows.append(
                {
                    **check.model_dump(exclude={"flags"}),
                    "flags": ",".join(check.flags),
                    "device_id": device_id,
                    "site_id": device.site_id,
                    "received_ms": received_ms,
                    "local_date": when.date().isoformat(),
                    "local_hour": when.hour,
                }
            )
        if new_rows:
            conn.execute(checks.insert(), new_rows)
            _upsert_counts(conn, device.site_id, dict(tally(new_rows)))

        acked = device.acked_seq
        # The device vouches that the batch holds every check after after_seq; if the hub
        # already holds everything up to after_seq, it now holds everything up to the last.
        if seqs and batch.after_seq <= acked:
            acked = max(acked, seqs[-1])
            conn.execute(update(devices).where(devices.c.id == device_id).values(acked_seq=acked))
    return BatchAck(acked_seq=acked, stored=len(new_rows), duplicates=len(seqs) - len(new_rows))
