"""Raw checks by month on PostgreSQL: one partition of ``checks`` per calendar month
(UTC) of the hub's receive time, so retention drops a month's table instead of deleting
millions of rows, and a query for recent days never reads old months.

Partitions are made ahead of time by ``gatecheck hub migrate`` and ``gatecheck hub purge``
(run daily); a check arriving for a month without one lands in ``checks_default`` and is
moved into its month the next time either runs — ingest never waits for maintenance.
SQLite keeps one table (its purge deletes rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from core.protocol import LOG_SEQ_BITS

AHEAD_MONTHS = 2
"""Months made beyond the current one, so a missed maintenance run loses nothing."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, ms: int) -> Month:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return cls(moment.year, moment.month)

    @property
    def name(self) -> str:
        return f"checks_p{self.year:04d}{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def start_ms(self) -> int:
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.next().start_ms


def partitioned(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def months(conn: Connection) -> list[Month]:
    """The month partitions ``checks`` has, oldest first."""
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'checks'::regclass AND c.relname LIKE 'checks_p%'"
        )
    )
    return sorted(Month(int(n[8:12]), int(n[12:14])) for n in names)


def _add_month(conn: Connection, month: Month) -> int:
    """Create ``month``'s partition, moving in what the default partition holds of it.
    Built as a plain table and attached, so rows in the default never block it."""
    bounds = {"start": month.start_ms, "end": month.end_ms}
    conn.execute(text(f"CREATE TABLE {month.name} (LIKE checks INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    moved = conn.execute(
        text(
            f"WITH moved AS (DELETE FROM checks_default WHERE received_ms >= :start AND received_ms < :end "
            f"RETURNING *) INSERT INTO {month.name} SELECT * FROM moved"
        ),
        bounds,
    ).rowcount
    conn.execute(
        text(
            f"ALTER TABLE checks ATTACH PARTITION {month.name} "
            f"FOR VALUES FROM ({month.start_ms}) TO ({month.end_ms})"
        )
    )
    return int(moved)


def ensure_months(engine: Engine, now_ms: int) -> list[Month]:
    """Partitions for this month, the next ``AHEAD_MONTHS``, and every month the default
    partition holds rows of; returns those made. Each in its own short transaction."""
    with engine.connect() as conn:
        if not partitioned(conn):
            return []
        have = set(months(conn))
        stray = conn.scalars(text("SELECT DISTINCT received_ms / 86400000 FROM checks_default")).all()
    wanted = {Month.of(now_ms)}
    for _ in range(AHEAD_MONTHS):
        wanted.add(max(wanted).next())
    wanted |= {Month.of(int(day) * 86_400_000) for day in stray}
    made = []
    for month in sorted(wanted - have):
        with engine.begin() as conn:
            _add_month(conn, month)
        made.append(month)
    return made


_INCOMPLETE = f"""
SELECT 1 FROM {{name}} c WHERE NOT EXISTS (
    SELECT 1 FROM device_logs l
    WHERE l.site_id = c.site_id AND l.device_id = c.device_id AND l.log_no = c.seq >> {LOG_SEQ_BITS}
      AND c.seq - (l.log_no::bigint << {LOG_SEQ_BITS}) <= l.acked_seq
) LIMIT 1
"""

_MARK_PURGED = f"""
UPDATE device_logs l SET purged_seq = greatest(l.purged_seq, m.top - (m.log_no << {LOG_SEQ_BITS}))
FROM (
    SELECT site_id, device_id, seq >> {LOG_SEQ_BITS} AS log_no, max(seq) AS top
    FROM {{name}} GROUP BY site_id, device_id, seq >> {LOG_SEQ_BITS}
) m
WHERE l.site_id = m.site_id AND l.device_id = m.device_id AND l.log_no = m.log_no
"""


def drop_month(engine: Engine, month: Month) -> int | None:
    """Drop a month's raw checks in one transaction, each log's purge mark raised to the
    highest seq it held — unless a check in it is still ahead of its log's acknowledged
    seq (an urgent check whose backlog is not in): then None, and the month stays."""
    with engine.begin() as conn:
        if conn.scalar(text(_INCOMPLETE.format(name=month.name))) is not None:
            return None
        rows = int(conn.scalar(text(f"SELECT count(*) FROM {month.name}")) or 0)
        conn.execute(text(_MARK_PURGED.format(name=month.name)))
        conn.execute(text(f"ALTER TABLE checks DETACH PARTITION {month.name}"))
        conn.execute(text(f"DROP TABLE {month.name}"))
    return rows
