"""``gatecheck hub purge``: raw checks older than the retention window go; counts stay.

What a site reports is in the daily counts, the alerts and the report records — all kept.
Raw checks are only needed while a day can still change and for looking into an incident,
so they are deleted once older than ``keep_days`` (by the hub's receive time), in small
transactions so ingest never waits long. Only checks a device's log has *completed* go
(at or below its acknowledged seq): an urgent check that arrived ahead of an unsent
backlog stays until the backlog is in. Each log remembers how far it was purged
(``device_logs.purged_seq``), and ingest takes a re-sent check at or below that as the
duplicate it is — so a day's counts stay exact after a purge.

On PostgreSQL raw checks are partitioned by month (hub/core/partitions.py): a month goes as a
whole once it ended more than ``keep_days`` ago (so raw checks are kept ``keep_days`` to
``keep_days`` + one month), and rows are deleted only for what a whole month could not
take — a month held back by an incomplete log, strays in the default partition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, func, select, update

from core.protocol import LOG_SEQ_BITS
from hub.core import partitions
from hub.core.db import checks, device_logs

CHUNK = 5000
"""Sequence numbers per delete transaction."""


@dataclass
class PurgeReport:
    checks: int = 0
    logs: int = 0
    months: int = 0
    """Month partitions dropped (PostgreSQL)."""


def purge(engine: Engine, keep_days: int, now_ms: int | None = None) -> PurgeReport:
    """Delete raw checks received more than ``keep_days`` ago (completed logs only)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    cutoff = now_ms - keep_days * 86_400_000
    report = PurgeReport()
    with engine.connect() as conn:
        by_month = partitions.partitioned(conn)
    if by_month:
        partitions.ensure_months(engine, now_ms)
        cutoff = partitions.Month.of(cutoff).start_ms  # whole months only
        with engine.connect() as conn:
            old_months = [m for m in partitions.months(conn) if m.end_ms <= cutoff]
        for month in old_months:
            dropped = partitions.drop_month(engine, month)
            if dropped is not None:
                report.checks += dropped
                report.months += 1
    _purge_rows(engine, cutoff, report)
    return report


def _purge_rows(engine: Engine, cutoff: int, report: PurgeReport) -> None:
    with engine.connect() as conn:
        log = device_logs.c
        logs = conn.execute(
            select(log.site_id, log.device_id, log.log_no, log.acked_seq).where(
                log.acked_seq > log.purged_seq
            )
        ).all()
    for site_id, device_id, log_no, acked_seq in logs:
        base = log_no << LOG_SEQ_BITS
        old = and_(
            checks.c.site_id == site_id,
            checks.c.device_id == device_id,
            checks.c.seq.between(base + 1, base + acked_seq),
            checks.c.received_ms < cutoff,
        )
        with engine.connect() as conn:
            last = conn.scalar(select(func.max(checks.c.seq)).where(old))
        if last is None:
            continue
        for start in range(base + 1, last + 1, CHUNK):
            with engine.begin() as conn:
                window = and_(old, checks.c.seq.between(start, min(start + CHUNK - 1, last)))
                report.checks += conn.execute(delete(checks).where(window)).rowcount
        # Everything of this log up to ``last`` is gone or was never old; checks at or
        # below the previous mark are gone already, so the mark only rises.
        with engine.begin() as conn:
            conn.execute(
                update(device_logs)
                .where(
                    and_(
                        device_logs.c.site_id == site_id,
                        device_logs.c.device_id == device_id,
                        device_logs.c.log_no == log_no,
                        device_logs.c.purged_seq < last - base,
                    )
                )
                .values(purged_seq=last - base)
            )
        report.logs += 1
