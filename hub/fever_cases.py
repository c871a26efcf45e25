"""A fever case at the hub: the confirmed fever, the reading it re-tested, the disposition
the gate recorded, and who was at the gate around it — followed through ``refers_to``
(a seq of the same log) from the checks the gate sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, select

from core.fever_drill import PRESENT_BEFORE_MS
from hub.core.db import checks
from hub.schemas import FeverCase

PRESENT_SCAN = 5_000
"""The people present are looked for among this many checks either side of the case (by
seq, on the primary key): far more than one gate checks in the window."""


def flag_value(flags: str, prefix: str) -> str | None:
    """The rest of the first stored flag starting with ``prefix`` ("disposition_x" → "x")."""
    return next((f.removeprefix(prefix) for f in flags.split(",") if f.startswith(prefix)), None)


def fever_case(engine: Engine, site_id: str, device_id: str, seq: int) -> FeverCase | None:
    """The case of the confirmed fever ``seq`` of a device, or None if there is no such fever."""
    mine = and_(checks.c.site_id == site_id, checks.c.device_id == device_id)
    cols = (checks.c.seq, checks.c.gate, checks.c.temp_c, checks.c.event_ms, checks.c.holder,
            checks.c.flags, checks.c.refers_to)  # fmt: skip
    with engine.connect() as conn:
        fever = conn.execute(
            select(*cols).where(mine, checks.c.seq == seq, checks.c.reason == "fever")
        ).first()
        if fever is None:
            return None
        first: Any = None
        if fever.refers_to is not None:
            first = conn.execute(select(*cols).where(mine, checks.c.seq == fever.refers_to)).first()
        handled = conn.execute(
            select(*cols)
            .where(mine, checks.c.refers_to == seq, checks.c.reason == "fever_handled", checks.c.seq > seq)
            .order_by(checks.c.seq.desc())
            .limit(1)
        ).first()
        # Until the disposition; while there is none, up to now (the lane is still held).
        last_seq = handled.seq if handled else seq + PRESENT_SCAN
        window = [
            checks.c.seq.between(last_seq - 2 * PRESENT_SCAN, last_seq),
            checks.c.event_ms >= (first or fever).event_ms - PRESENT_BEFORE_MS,
            checks.c.holder.is_not(None),
        ]
        if handled is not None:
            window.append(checks.c.event_ms <= handled.event_ms)
        if fever.holder is not None:
            window.append(checks.c.holder != fever.holder)
        present = conn.scalars(
            select(checks.c.holder).where(mine, *window).distinct().order_by(checks.c.holder)
        ).all()
    return FeverCase(
        site_id=site_id,
        device_id=device_id,
        gate=fever.gate,
        seq=seq,
        temp_c=fever.temp_c,
        event_ms=fever.event_ms,
        retest_method=flag_value(fever.flags, "retest_"),
        first_seq=first.seq if first else None,
        first_temp_c=first.temp_c if first else None,
        first_event_ms=first.event_ms if first else None,
        disposition=flag_value(handled.flags, "disposition_") if handled else None,
        disposition_ms=handled.event_ms if handled else None,
        present=list(present),
    )
