"""Device credentials at ingest: each device's public key and status, and the nonces of
its signed requests within the replay window — the tables and the SQL touching them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, String, bindparam, delete, exists, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from core.policy import Policy
from core.protocol import CLOCK_TOLERANCE_S
from hub.core.db import devices, nonces, sites
from hub.policies import policy_in_force_sql
from hub.sql import run


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


_KEY_COLUMNS = (
    devices.c.site_id,
    devices.c.gate,
    sites.c.timezone,
    devices.c.public_key,
    devices.c.status,
    policy_in_force_sql(bindparam("now_ms")).label("policy"),
)
_DEVICE_KEY = (
    select(
        *_KEY_COLUMNS,
        exists()
        .where(
            nonces.c.site_id == devices.c.site_id,
            nonces.c.device_id == devices.c.id,
            nonces.c.nonce == bindparam("nonce"),
        )
        .label("nonce_used"),
    )
    .join(sites, sites.c.id == devices.c.site_id)
    .where(devices.c.id == bindparam("device_id"))
)
"""Everything a device request is authenticated with, in one read (built once)."""

_TAKEN = (
    postgresql.insert(nonces)
    .from_select(
        ["site_id", "device_id", "nonce", "seen_ms"],
        select(
            devices.c.site_id,
            devices.c.id,
            bindparam("nonce", type_=String),
            bindparam("now_ms", type_=BigInteger),
        ).where(devices.c.id == bindparam("device_id")),
    )
    .on_conflict_do_nothing()
    .returning(nonces.c.nonce)
    .cte("taken")
)
_DEVICE_KEY_TAKING_NONCE = (
    select(*_KEY_COLUMNS, ~exists(select(_TAKEN.c.nonce)).label("nonce_used"))
    .join(sites, sites.c.id == devices.c.site_id)
    .where(devices.c.id == bindparam("device_id"))
)
"""PostgreSQL: the same read, the nonce recorded by it (a conflict: used before, or by a
request in flight that then commits — the insert waits for it)."""


def _key(row: Any, device_id: str) -> DeviceKey:
    return DeviceKey(
        device_id, row.site_id, row.gate, row.timezone, bytes(row.public_key), row.status,
        alert_reasons(row.policy),
    )  # fmt: skip


def device_key(conn: Connection, device_id: str, nonce: str) -> tuple[DeviceKey, bool] | None:
    """The device, and whether this nonce was already used — a read, nothing recorded."""
    params = {"device_id": device_id, "nonce": nonce[:64], "now_ms": int(time.time() * 1000)}
    row = conn.execute(_DEVICE_KEY, params).one_or_none()
    return None if row is None else (_key(row, device_id), bool(row.nonce_used))


@dataclass(frozen=True)
class KeyRead:
    """What authenticating a request found: the device, whether its nonce was used before,
    and whether the read already recorded it (PostgreSQL) or ``record_nonce`` must once
    the request checks out (SQLite)."""

    device: DeviceKey
    nonce_used: bool
    nonce_recorded: bool


def key_for_request(conn: Connection, device_id: str, nonce: str, now_ms: int) -> KeyRead | None:
    """The device and its nonce for a request being authenticated — it runs for every
    device request, in the request's own transaction, so one round trip: on PostgreSQL
    the nonce is recorded by the read itself (a refusal rolls it back with the rest)."""
    if conn.dialect.name != "postgresql":
        found = device_key(conn, device_id, nonce)
        return None if found is None else KeyRead(*found, nonce_recorded=False)
    params = {"device_id": device_id, "nonce": nonce[:64], "now_ms": now_ms}
    row = run(conn, _DEVICE_KEY_TAKING_NONCE, params).one_or_none()
    return None if row is None else KeyRead(_key(row, device_id), bool(row.nonce_used), nonce_recorded=True)


_DEVICE_EXISTS = select(devices.c.id).where(devices.c.id == bindparam("device_id"))


def device_exists(engine: Engine, device_id: str) -> bool:
    """Is this id enrolled (whatever its status)? Asked once per device and process."""
    with engine.connect() as conn:
        return conn.execute(_DEVICE_EXISTS, {"device_id": device_id}).first() is not None


_NONCE_INSERT = insert(nonces)
NONCE_KEPT_MS = 2 * CLOCK_TOLERANCE_S * 1000
"""A nonce is remembered this long: a request signed earlier is refused by its timestamp."""


class Replayed(Exception):
    """A nonce this device already used within the replay window."""


def record_nonce(conn: Connection, device: DeviceKey, nonce: str, now_ms: int) -> None:
    """Remember a nonce for the replay window inside the caller's transaction (the old
    ones are swept by ``expire_nonces``, not by each request: one round trip less)."""
    try:
        # First in the transaction: a conflict aborts the whole request, nothing stored.
        row = {
            "site_id": device.site_id,
            "device_id": device.device_id,
            "nonce": nonce[:64],
            "seen_ms": now_ms,
        }
        conn.execute(_NONCE_INSERT, row)
    except IntegrityError:
        raise Replayed from None


def expire_nonces(engine: Engine, now_ms: int) -> int:
    """Forget the nonces older than the replay window, every device's at once (each hub
    process runs this once a minute; running it twice does no harm)."""
    with engine.begin() as conn:
        gone: int = conn.execute(delete(nonces).where(nonces.c.seen_ms < now_ms - NONCE_KEPT_MS)).rowcount
    return gone
