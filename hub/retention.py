"""``gatecheck hub purge``: raw checks older than the retention window go; counts stay.

What a site reports is in the daily counts, the alerts and the report records — all kept.
Raw checks are only needed while a day can still change and for looking into an incident,
so they are deleted once older than ``keep_days`` (by the hub's receive time), in small
transactions so ingest never waits long. Only checks a device's log has *completed* go
(at or below its acknowledged seq): an urgent check that arrived ahead of an unsent
backlog stays until the backlog is in. Each log remembers how far it was purged
(``device_logs.purged_seq``), and ingest takes a re-sent check at or below that as the
duplicate it is — so a day's counts stay exact after a purge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, func, select, update

from core.protocol import LOG_SEQ_BITS
from hub.core.db import checks, device_logs

CHUNK = 5000
"""Sequence numbers per delete transaction."""


@dataclass
class PurgeReport:
    checks: int = 0
    logs: int = 0


def purge(engine: Engine, keep_days: int, now_ms: int | None = None) -> PurgeReport:
    """Delete raw checks received more than ``keep_days`` ago (completed logs only)."""
    cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - keep_days * 86_400_000
    report = PurgeReport()
    with engine.connect() as conn:
        logs = conn.execute(
            select(device_logs.c.device_id, device_logs.c.log_no, device_logs.c.acked_seq).where(
                device_logs.c.acked_seq > device_logs.c.purged_seq
            )
        ).all()
    for device_id, log_no, acked_seq in logs:
        base = log_no << LOG_SEQ_BITS
        old = and_(
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
                .where(and_(device_logs.c.device_id == device_id, device_logs.c.log_no == log_no))
                .values(purged_seq=last - base)
            )
        report.logs += 1
    return report
