"""Device credentials at ingest: each device's public key and status, and the nonces of
its signed requests within the replay window — the tables and the SQL touching them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, Engine, and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from core.policy import Policy
from core.protocol import CLOCK_TOLERANCE_S
from hub.core.db import devices, nonces, sites
from hub.policies import policy_in_force_sql


@dataclass(frozen=True)
class DeviceKey:
    """Who a device is, as every request of it needs: the site id leads every statement
    that follows (the check tables are keyed, and can be sharded, by site)."""

    device_id: str
    site_id: str
    gate: str
    timezone: str
    public_key: bytes
    status: str
    alert_reasons: frozenset[str] = frozenset()
    """The denials its site raises as alerts (the site's policy)."""


@lru_cache(maxsize=1024)
def alert_reasons(policy_json: str) -> frozenset[str]:
    """A site policy's alerted denials, parsed once per distinct policy text."""
    return frozenset(Policy.model_validate_json(policy_json).alert_reasons)


def device_key(engine: Engine, device_id: str, nonce: str) -> tuple[DeviceKey, bool] | None:
    """The device, and whether this nonce was already used — it runs for every device
    request, so two reads on one connection."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                devices.c.site_id,
                devices.c.gate,
                sites.c.timezone,
                devices.c.public_key,
                devices.c.status,
                policy_in_force_sql(int(time.time() * 1000)).label("policy"),
            )
            .join(sites, sites.c.id == devices.c.site_id)
            .where(devices.c.id == device_id)
        ).one_or_none()
        if row is None:
            return None
        key = DeviceKey(
            device_id, row.site_id, row.gate, row.timezone, bytes(row.public_key), row.status,
            alert_reasons(row.policy),
        )  # fmt: skip
        used = conn.scalar(
            select(nonces.c.nonce).where(
                and_(
                    nonces.c.site_id == key.site_id,
                    nonces.c.device_id == device_id,
                    nonces.c.nonce == nonce[:64],
                )
            )
        )
    return key, used is not None


class Replayed(Exception):
    """A nonce this device already used within the replay window."""


def record_nonce(conn: Connection, device: DeviceKey, nonce: str, now_ms: int) -> None:
    """Remember a nonce for the replay window inside the caller's transaction."""
    horizon = now_ms - 2 * CLOCK_TOLERANCE_S * 1000
    mine = and_(nonces.c.site_id == device.site_id, nonces.c.device_id == device.device_id)
    try:
        # First in the transaction: a conflict aborts the whole request, nothing stored.
        conn.execute(
            insert(nonces).values(
                site_id=device.site_id, device_id=device.device_id, nonce=nonce[:64], seen_ms=now_ms
            )
        )
    except IntegrityError:
        raise Replayed from None
    conn.execute(delete(nonces).where(and_(mine, nonces.c.seen_ms < horizon)))
