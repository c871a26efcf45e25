"""Idempotent ingest of a device's batch, with the site's daily counts kept in step.

Everything happens in one transaction: the raw checks (unique on device id + seq), the
count increments for only the checks that were new, the device's clock measurements and
its acknowledged seq. A batch sent twice — after a timeout, a retry, a duplicated packet
— therefore counts once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.protocol import LOG_SEQ_BITS, BatchAck, BatchIn
from core.reasons import reason
from hub import clocks, site_sync
from hub.batch_counts import count_new_checks
from hub.core.db import (
    alerts,
    check_conflicts,
    checks,
    device_boots,
    device_logs,
    device_status,
    new_ids,
)
from hub.counting import LOG_CONFLICT, LOG_REPLACED, LocalDays
from hub.device_keys import DeviceKey
from hub.sql import insert_rows, run, upsert


class IngestError(Exception):
    """A batch the hub refuses (it names why)."""


def _raise_alerts(
    conn: Connection, rows: list[dict[str, Any]], alerted: frozenset[str]
) -> list[dict[str, Any]]:
    """Alerts for the denials the site's policy alerts on (``alerted``), in this transaction."""
    raised: list[dict[str, Any]] = [
        {
            k: r[k]
            for k in ("site_id", "device_id", "seq", "gate", "reason", "temp_c", "event_ms", "received_ms")
        }
        for r in rows
        if r["verdict"] == "deny" and (r["reason"] in alerted or reason(r["reason"]).alert)
    ]
    if raised:
        for alert, alert_id in zip(
            raised, new_ids(conn, alerts, raised[0]["site_id"], len(raised)), strict=True
        ):
            alert["id"] = alert_id
        conn.execute(alerts.insert(), raised)
    return raised


def _boot_values(device: DeviceKey, boot_id: str, clock: clocks.BootClock, now: int) -> dict[str, Any]:
    """The parameters of the device's boot clock row (``_BOOT_UPSERTS``, ``_BOOT_CTE``)."""
    return {"site": device.site_id, "device": device.device_id, "boot_id": boot_id,
            "skew_ms": clock.skew_ms, "mono_offset_ms": clock.mono_offset_ms, "seen_ms": now}  # fmt: skip


_BOOT_ROW: dict[str, Any] = {
    "site_id": bindparam("site"), "device_id": bindparam("device"), "boot_id": bindparam("boot_id"),
    "skew_ms": bindparam("skew_ms"), "mono_offset_ms": bindparam("mono_offset_ms"),
    "last_seen_ms": bindparam("seen_ms"),
}  # fmt: skip


def _boot_upsert(dialect: Any) -> Any:
    """The boot clock's upsert with parameters of its own names (``_BOOT_ROW``), not
    ``hub.sql.upsert``'s column-named ones: as a WITH of the log statement it shares that
    statement's parameters, and ``site``/``device`` are the same values there."""
    stmt = dialect.insert(device_boots).values(_BOOT_ROW)
    replaced = {k: stmt.excluded[k] for k in ("skew_ms", "mono_offset_ms", "last_seen_ms")}
    key = [device_boots.c.site_id, device_boots.c.device_id, device_boots.c.boot_id]
    return stmt.on_conflict_do_update(index_elements=key, set_=replaced)


_BOOT_UPSERTS = {"postgresql": _boot_upsert(postgresql), "sqlite": _boot_upsert(sqlite)}
_BOOT_CTE = _BOOT_UPSERTS["postgresql"].cte("boot")
"""PostgreSQL: the boot clock written by the statement that reads the log (one round trip)."""


_BOOTS = select(device_boots.c.boot_id, device_boots.c.skew_ms, device_boots.c.mono_offset_ms).where(
    device_boots.c.site_id == bindparam("site"),
    device_boots.c.device_id == bindparam("device"),
    device_boots.c.boot_id.in_(bindparam("boots", expanding=True)),
)


def _known_boots(conn: Connection, device: DeviceKey, boot_ids: set[str]) -> dict[str, clocks.BootClock]:
    rows = conn.execute(
        _BOOTS, {"site": device.site_id, "device": device.device_id, "boots": sorted(boot_ids)}
    )
    return {r.boot_id: clocks.BootClock(r.skew_ms, r.mono_offset_ms) for r in rows}


def _lock_device(
    conn: Connection, device: DeviceKey, batch: BatchIn, clock: clocks.BootClock, now: int
) -> None:
    """Record what the batch tells of its device. Written first, it takes the device's
    lock (a row lock on PostgreSQL, the write lock on SQLite), so two uploads from one
    device never interleave — wherever they arrive."""
    values = {
        "last_seen_ms": now,
        "last_boot_id": batch.boot_id,
        "clock_skew_ms": clock.skew_ms,
        "backlog": batch.backlog,
        "software": batch.software or None,
        "trust_version": batch.trust_version,
        "trust_fetched_ms": batch.trust_fetched_ms,
        "policy_version": batch.policy_version,
    }
    run(
        conn,
        upsert(conn, device_status, ["site_id", "device_id"], replace=tuple(values)),
        {"site_id": device.site_id, "device_id": device.device_id, **values},
    )


CONTENT = ("gate", "wall_ms", "mono_ms", "boot_id", "verdict", "reason", "temp_c", "temp_source",
           "scheme", "holder", "flags")  # fmt: skip
"""What a check says; two uploads of one (device, log, seq) must agree on all of it.
(``refers_to`` is left out: a device that learnt to send it may re-send a check the hub
stored from it before, without.)"""


_SYNCED = (
    update(device_status)
    .where(device_status.c.site_id == bindparam("site"), device_status.c.device_id == bindparam("device"))
    .values(synced_until_ms=bindparam("until"))
)


def _held_checks(site: Any, device: Any, low: Any, high: Any) -> Select[Any]:
    """What the hub holds of a device's checks from seq ``low`` to ``high``: the seq and
    the content two uploads of a check must agree on."""
    return select(checks.c.seq, *(checks.c[k] for k in CONTENT)).where(
        checks.c.site_id == site, checks.c.device_id == device, checks.c.seq.between(low, high)
    )


_HELD = _held_checks(bindparam("site"), bindparam("device"), bindparam("low"), bindparam("high"))
"""The checks of a batch's seq range the hub holds already — on SQLite, and for a log this
batch opened; PostgreSQL reads them with the log (``_HELD_OF_LOG``)."""


@dataclass(frozen=True)
class IngestResult:
    ack: BatchAck
    alerts: list[dict[str, Any]]
    """Alerts raised by this batch (fevers, red codes, log events), for the webhook."""


_LOG = and_(
    device_logs.c.site_id == bindparam("site"),
    device_logs.c.device_id == bindparam("device"),
    device_logs.c.log_id == bindparam("log"),
)
_LOG_COLUMNS = (device_logs.c.log_no, device_logs.c.acked_seq, device_logs.c.purged_seq)
_LOG_READ = select(*_LOG_COLUMNS).where(_LOG)
_ACKED = device_logs.c.acked_seq
_AFTER, _LAST = bindparam("after", type_=BigInteger), bindparam("last", type_=BigInteger)
_LOG_ADVANCE = (
    update(device_logs)
    .where(_LOG)
    .values(acked_seq=case((and_(_ACKED >= _AFTER, _ACKED < _LAST), _LAST), else_=_ACKED))
    .returning(*_LOG_COLUMNS)
)


_LOW, _HIGH = bindparam("low", type_=BigInteger), bindparam("high", type_=BigInteger)
_LOG_BASE = cast(device_logs.c.log_no, BigInteger).op("<<")(literal_column(str(LOG_SEQ_BITS), Integer))
_HELD_IN_ORDER = (
    _held_checks(device_logs.c.site_id, device_logs.c.device_id, _LOG_BASE + _LOW, _LOG_BASE + _HIGH)
    .order_by(checks.c.seq)
    .correlate(device_logs)
    .subquery("held_rows")
)
_HELD_OF_LOG = select(func.json_agg(func.json_build_array(*_HELD_IN_ORDER.c))).scalar_subquery().label("held")
"""PostgreSQL: ``_HELD`` as a column of the log statement — the checks of the batch's seq
range (``low``–``high`` within the log) the hub holds, one JSON array each. In seq order
so that the checks' key is the plan's cheapest path whatever the statistics say: the
plan a connection keeps for this statement (hub.core.prepared) is often made while the
month's partition is still empty, and unordered it then read through the (site, local
date) index, filtering all of a site's checks — 0.33 → 0.12 ms an upload under
bench/fleet.py."""
_LOG_READ_AND_BOOT = _LOG_READ.add_columns(_HELD_OF_LOG).add_cte(_BOOT_CTE)
_LOG_ADVANCE_AND_BOOT = _LOG_ADVANCE.returning(_HELD_OF_LOG).add_cte(_BOOT_CTE)


@dataclass(frozen=True)
class LogState:
    """Where the hub stands with a device's log (``_log_ack``)."""

    log_no: int
    acked_seq: int
    purged_seq: int
    held: dict[int, tuple[Any, ...]] | None
    """The checks of the batch's range already held, by seq, if the statement read them."""


def _log_ack(
    conn: Connection,
    device: DeviceKey,
    log_id: str,
    after_seq: int | None,
    last_seq: int | None,
    boot: dict[str, Any] | None = None,
    span: tuple[int, int] = (1, 0),
) -> LogState | None:
    """This device's log, the acknowledgement moved first when a routine batch continues
    what the hub holds: it vouches for every check after ``after_seq``, so if the hub
    held everything up to there it now holds everything up to the batch's last seq. None
    when the hub has never heard of this log. With ``boot`` (``_boot_values``) the
    device's boot clock is written too — on PostgreSQL by the same statement, which also
    reads the checks held in ``span`` (the batch's first and last seq in the log): one
    round trip for what were three."""
    params: dict[str, Any] = {"site": device.site_id, "device": device.device_id, "log": log_id}
    read, advance = _LOG_READ, _LOG_ADVANCE
    reads_held = False
    if boot is not None and conn.dialect.name == "postgresql":
        reads_held = True
        params |= boot | {"low": span[0], "high": span[1]}
        read, advance = _LOG_READ_AND_BOOT, _LOG_ADVANCE_AND_BOOT
    elif boot is not None:
        conn.execute(_BOOT_UPSERTS[conn.dialect.name], boot)
    if after_seq is None or last_seq is None:
        row = run(conn, read, params).one_or_none()
    else:
        row = run(conn, advance, params | {"after": after_seq, "last": last_seq}).one_or_none()
    if row is None:
        return None
    held = {item[0]: tuple(item[1:]) for item in row.held or ()} if reads_held else None
    return LogState(row.log_no, row.acked_seq, row.purged_seq, held)


def _open_log(conn: Connection, device: DeviceKey, log_id: str, received_ms: int) -> int:
    """Take a log the hub has not seen: the device's first (or its log from before logs had
    ids) becomes log 0; any later one — the old log was lost — gets the next number."""
    mine = and_(device_logs.c.site_id == device.site_id, device_logs.c.device_id == device.device_id)
    claimed = conn.scalar(
        update(device_logs)
        .where(and_(mine, device_logs.c.log_id.is_(None)))
        .values(log_id=log_id)
        .returning(device_logs.c.log_no)
    )
    if claimed is not None:
        return int(claimed)
    last = conn.scalar(select(func.max(device_logs.c.log_no)).where(mine))
    log_no = 0 if last is None else last + 1
    conn.execute(
        device_logs.insert().values(
            site_id=device.site_id,
            device_id=device.device_id,
            log_no=log_no,
            log_id=log_id,
            acked_seq=0,
            first_seen_ms=received_ms,
        )
    )
    return log_no


def _alert_once(conn: Connection, alert: dict[str, Any]) -> bool:
    """Raise an alert unless this (check, reason) already has one."""
    held = conn.scalar(
        select(alerts.c.id).where(
            and_(*(alerts.c[k] == alert[k] for k in ("site_id", "device_id", "seq", "reason")))
        )
    )
    if held is not None:
        return False
    (alert["id"],) = new_ids(conn, alerts, alert["site_id"], 1)
    conn.execute(alerts.insert().values(**alert))
    return True


def _keep_conflicts(
    conn: Connection, device: DeviceKey, conflicting: list[dict[str, Any]], received_ms: int
) -> list[dict[str, Any]]:
    """Store each conflicting version once (an agent retrying sends it again)."""
    kept = {
        (r.seq, r.content)
        for r in conn.execute(
            select(check_conflicts.c.seq, check_conflicts.c.content).where(
                and_(
                    check_conflicts.c.site_id == device.site_id,
                    check_conflicts.c.device_id == device.device_id,
                    check_conflicts.c.seq.in_([c["seq"] for c in conflicting]),
                )
            )
        )
    }
    rows = [
        {"site_id": device.site_id, "device_id": device.device_id, "seq": c["seq"],
         "received_ms": received_ms,
         "content": json.dumps({k: c[k] for k in CONTENT}, ensure_ascii=False, sort_keys=True)}
        for c in conflicting
    ]  # fmt: skip
    new = [r for r in rows if (r["seq"], r["content"]) not in kept]
    for row, row_id in zip(new, new_ids(conn, check_conflicts, device.site_id, len(new)), strict=True):
        row["id"] = row_id
    if new:
        conn.execute(check_conflicts.insert(), new)
    return new


def ingest_batch(conn: Connection, device: DeviceKey, batch: BatchIn, received_ms: int) -> IngestResult:
    """Store a batch from an authenticated device in the caller's transaction (the
    request's: its nonce is recorded there first, so a replay is refused atomically and
    costs no extra commit) and say how far the device may advance."""
    device_id = device.device_id
    if batch.device_id != device_id:
        raise IngestError(f"batch is for device {batch.device_id}, signed by {device_id}")
    try:
        items = batch.checks.rows()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise IngestError(f"invalid check in batch: {exc}") from exc
    seqs = [c["seq"] for c in items]
    floor = batch.after_seq or 0
    if seqs != sorted(set(seqs)) or (seqs and seqs[0] <= floor):
        raise IngestError("checks must have increasing seq numbers above after_seq")
    clock = clocks.measure(batch.sent_wall_ms, batch.sent_mono_ms, received_ms)
    last_seq = seqs[-1] if seqs else None

    _lock_device(conn, device, batch, clock, received_ms)
    raised: list[dict[str, Any]] = []
    boot = _boot_values(device, batch.boot_id, clock, received_ms)
    span = (seqs[0], seqs[-1]) if seqs else (1, 0)
    log = _log_ack(conn, device, batch.log_id, batch.after_seq, last_seq, boot, span)
    if log is None:
        log_no = _open_log(conn, device, batch.log_id, received_ms)
        if log_no > 0:
            raised.append(
                {"site_id": device.site_id, "device_id": device_id, "seq": log_no << LOG_SEQ_BITS,
                 "gate": device.gate, "reason": LOG_REPLACED, "temp_c": None,
                 "event_ms": received_ms, "received_ms": received_ms}
            )  # fmt: skip
            _alert_once(conn, raised[-1])
        log = _log_ack(conn, device, batch.log_id, batch.after_seq, last_seq)
        assert log is not None, "the log was opened just now, in this transaction"
    base = log.log_no << LOG_SEQ_BITS
    if batch.after_seq is not None and batch.backlog == 0 and log.acked_seq >= (last_seq or floor):
        # Nothing left on the device and the hub holds all of it: complete until now.
        run(conn, _SYNCED, {"site": device.site_id, "device": device_id, "until": received_ms})
        site_sync.gate_caught_up(conn, device.site_id, device.timezone, received_ms)
    held = log.held
    if held is None:
        where = {"site": device.site_id, "device": device_id, "low": base + span[0], "high": base + span[1]}
        held = {r[0]: tuple(r[1:]) for r in run(conn, _HELD, where)} if seqs else {}
    other_boots = {c["boot_id"] for c in items} - {batch.boot_id}
    boots = _known_boots(conn, device, other_boots) if other_boots else {}
    boots[batch.boot_id] = clock
    new_rows: list[dict[str, Any]] = []
    conflicting: list[dict[str, Any]] = []
    purged = base + log.purged_seq
    for check in items:
        check["seq"] += base
        if check["refers_to"] is not None:
            check["refers_to"] += base  # a seq of the same log, numbered like this one
        stored = held.get(check["seq"])
        if stored is None:
            if check["seq"] > purged:  # at or below: the hub had it, then purged it
                new_rows.append(check)
        elif stored != tuple(",".join(check[k]) if k == "flags" else check[k] for k in CONTENT):
            conflicting.append(check)
    placed = [
        clocks.place(c["wall_ms"], c["mono_ms"], boots.get(c["boot_id"]), received_ms) for c in new_rows
    ]
    local = LocalDays(ZoneInfo(device.timezone)).of([event_ms for event_ms, _ in placed])
    # The rows from the batch are this call's own: complete them in place.
    for row, (event_ms, source), (local_date, local_hour) in zip(new_rows, placed, local, strict=True):
        row["flags"] = ",".join(row["flags"])
        row["device_id"] = device_id
        row["site_id"] = device.site_id
        row["received_ms"] = received_ms
        row["event_ms"] = event_ms
        row["time_source"] = source
        row["local_date"] = local_date
        row["local_hour"] = local_hour
    if new_rows:
        insert_rows(conn, checks, new_rows)
        count_new_checks(conn, device.site_id, device_id, new_rows)
        raised += _raise_alerts(conn, new_rows, device.alert_reasons)
    if conflicting and _keep_conflicts(conn, device, conflicting, received_ms):
        first = conflicting[0]
        alert = {"site_id": device.site_id, "device_id": device_id, "seq": first["seq"],
                 "gate": first["gate"], "reason": LOG_CONFLICT, "temp_c": first["temp_c"],
                 "event_ms": received_ms, "received_ms": received_ms}  # fmt: skip
        if _alert_once(conn, alert):
            raised.append(alert)

    ack = BatchAck(
        acked_seq=log.acked_seq,
        stored=len(new_rows),
        duplicates=len(seqs) - len(new_rows) - len(conflicting),
        conflicts=len(conflicting),
    )
    return IngestResult(ack, raised)
