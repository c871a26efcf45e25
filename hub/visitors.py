"""The sites' visitor ledgers at the hub: the gates' visitor books stored as they sync
(new entries, and their closing when visitors leave), read back per site and local day
with who is still inside — names and phone numbers masked unless a role allowed to see
them asks, and every such full view recorded (privacy: 002:1025, 002:967)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, func, or_, select

from core.protocol import VisitorsIn
from hub.core.db import name_views, visitors
from hub.device_keys import DeviceKey
from hub.sql import insert_for


def store_visitors(conn: Connection, device: DeviceKey, batch: VisitorsIn, received_ms: int) -> int:
    """Upsert a device's entries in the caller's transaction (the request's, its nonce
    recorded first). Sending an entry again is harmless; a closing is never undone."""
    if batch.device_id != device.device_id:
        raise ValueError("the batch names another device")
    rows = [
        {"site_id": device.site_id, "device_id": device.device_id, "log_id": batch.log_id,
         "visitor_id": v.id, "gate": device.gate, "check_seq": v.check_seq, "name": v.name, "phone": v.phone,
         "host": v.host, "purpose": v.purpose, "escort": v.escort, "entered_ms": v.entered_ms,
         "left_ms": v.left_ms, "received_ms": received_ms}
        for v in batch.visitors
    ]  # fmt: skip
    if rows:
        stmt = insert_for(conn)(visitors)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site_id", "device_id", "log_id", "visitor_id"],
            set_={"left_ms": func.coalesce(visitors.c.left_ms, stmt.excluded.left_ms),
                  "received_ms": stmt.excluded.received_ms},
        )  # fmt: skip
        conn.execute(stmt, rows)
    return len(rows)


def mask_name(name: str) -> str:
    """张三 → 张*: the family name and one star per character after it."""
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    """13800138000 → 138****8000."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


@dataclass(frozen=True)
class LedgerEntry:
    gate: str
    name: str
    phone: str
    host: str
    purpose: str
    escort: str | None
    entered_ms: int
    left_ms: int | None


def ledger(engine: Engine, site_id: str, day: date, timezone: str, full: bool) -> list[LedgerEntry]:
    """A site's visitors of one local day (entered that day, or still inside from before),
    newest first; masked unless ``full``."""
    tz = ZoneInfo(timezone)
    start = int(datetime.combine(day, time(0, 0), tzinfo=tz).timestamp() * 1000)
    end = int(datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz).timestamp() * 1000)
    that_day = and_(visitors.c.entered_ms >= start, visitors.c.entered_ms < end)
    still_inside = and_(visitors.c.entered_ms < start, visitors.c.left_ms.is_(None))
    with engine.connect() as conn:
        rows = conn.execute(
            select(visitors)
            .where(visitors.c.site_id == site_id, or_(that_day, still_inside))
            .order_by(visitors.c.entered_ms.desc())
            .limit(1000)
        ).all()
    return [
        LedgerEntry(
            r.gate,
            r.name if full else mask_name(r.name),
            r.phone if full else mask_phone(r.phone),
            r.host,
            r.purpose,
            r.escort,
            r.entered_ms,
            r.left_ms,
        )
        for r in rows
    ]


def log_full_view(engine: Engine, site_id: str, username: str, what: str, viewed_ms: int) -> None:
    """Record that ``username`` saw a ledger page with names and phone numbers in full."""
    with engine.begin() as conn:
        conn.execute(
            insert_for(conn)(name_views).on_conflict_do_nothing(),
            [{"site_id": site_id, "username": username, "viewed_ms": viewed_ms, "what": what[:64]}],
        )


@dataclass(frozen=True)
class NameView:
    username: str
    viewed_ms: int
    what: str


def full_views(engine: Engine, site_id: str, limit: int = 50) -> list[NameView]:
    """Who saw this site's visitors in full, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(name_views.c.username, name_views.c.viewed_ms, name_views.c.what)
            .where(name_views.c.site_id == site_id)
            .order_by(name_views.c.viewed_ms.desc())
            .limit(limit)
        ).all()
    return [NameView(*row) for row in rows]
