"""Device credentials at ingest: each device's public key and status, and the nonces of
its signed requests within the replay window — the tables and the SQL touching them."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from core.protocol import CLOCK_TOLERANCE_S
from hub.core.db import devices, nonces


def device_key(engine: Engine, device_id: str, nonce: str) -> tuple[bytes, str, bool] | None:
    """The device's public key and status, and whether this nonce was already used — one
    round trip, as it runs for every device request."""
    with engine.connect() as conn:
        row = conn.execute(
            select(devices.c.public_key, devices.c.status).where(devices.c.id == device_id)
        ).one_or_none()
        if row is None:
            return None
        used = conn.scalar(
            select(nonces.c.nonce).where(and_(nonces.c.device_id == device_id, nonces.c.nonce == nonce[:64]))
        )
    return bytes(row.public_key), row.status, used is not None


class Replayed(Exception):
    """A nonce this device already used within the replay window."""


def record_nonce(conn: Connection, device_id: str, nonce: str, now_ms: int) -> None:
    """Remember a nonce for the replay window inside the caller's transaction."""
    horizon = now_ms - 2 * CLOCK_TOLERANCE_S * 1000
    try:
        # First in the transaction: a conflict aborts the whole request, nothing stored.
        conn.execute(insert(nonces).values(device_id=device_id, nonce=nonce[:64], seen_ms=now_ms))
    except IntegrityError:
        raise Replayed from None
    conn.execute(delete(nonces).where(and_(nonces.c.device_id == device_id, nonces.c.seen_ms < horizon)))
