"""The hub's tables (SQLAlchemy Core) and engine set-up for SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    text,
)

from core.private import create_private_file
from core.protocol import FLAGS_TEXT_MAX, GATE_MAX, ID_MAX, REASON_MAX
from hub.core.idle_ping import IDLE_PING_S, ping_after_idle
from hub.core.partitions import Month, ensure_months
from hub.core.prepared import keep_statements_prepared
from hub.counting import METRIC_MAX, ROLLUP_METRICS

metadata = MetaData()

organisations = Table(
    "organisations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at_ms", BigInteger, nullable=False),
)

# The region tree (city → district → street → community, any depth) and its closure: one
# row per (ancestor, region) pair, the region itself at depth 0, so "every site below" is
# one join whatever the depth (hub/regions.py keeps both).
regions = Table(
    "regions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("parent_id", String(32), ForeignKey("regions.id")),
    Column("name", String(100), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("parent_id", "name", name="regions_name_under_parent"),
)

region_paths = Table(
    "region_paths",
    metadata,
    Column("ancestor_id", String(32), ForeignKey("regions.id"), nullable=False),
    Column("region_id", String(32), ForeignKey("regions.id"), nullable=False),
    Column("depth", SmallInteger, nullable=False, comment="0: the region itself."),
    PrimaryKeyConstraint("ancestor_id", "region_id"),
    Index("region_paths_up", "region_id", "ancestor_id"),
)

# Kinds of venue (001:22, 001:26); the migration seeds the eight of the source plans.
categories = Table(
    "categories",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name_zh", String(50), nullable=False),
    Column("name_en", String(80), nullable=False),
    Column("position", Integer, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("report_deadline", String(5), nullable=False, default="12:00", comment="Local HH:MM, next day."),
    Column("pseudonym_key", LargeBinary(32), nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("region_id", String(32), ForeignKey("regions.id")),
    Column("category_id", String(32), ForeignKey("categories.id")),
    Index("sites_by_region", "region_id", "category_id"),
)

# How far each site's report is complete, kept at ingest (hub/site_sync.py) so the sites
# late for their report are an index range, not a pass over every gate of a province.
site_sync = Table(
    "site_sync",
    metadata,
    Column("site_id", String(32), primary_key=True),
    Column(
        "complete_until_ms",
        BigInteger,
        comment="Every active gate has sent all it recorded up to here (NULL: no active gate).",
    ),
    Column(
        "due_ms", BigInteger, comment="Deadline of the first local day not complete (NULL: no active gate)."
    ),
    Column("region_id", String(32), comment="The site's (sites.region_id)."),
    Index("site_sync_by_due", "due_ms", "site_id"),
    Index("site_sync_by_region", "region_id", "site_id"),  # a small region's sites, without a pass
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False, index=True),
    Column("gate", String(GATE_MAX), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("hub_url", String(255), comment="URL the device was told to sync to (for new bundles)."),
    Column("key_rotated_ms", BigInteger, comment="When the device's key pair was last replaced."),
    Column("revoked_ms", BigInteger, comment="When the device was revoked (status 'revoked')."),
    # The few revoked devices, for reads that pass over the active ones.
    Index(
        "devices_not_active",
        "id",
        postgresql_where=text("status <> 'active'"),
        sqlite_where=text("status <> 'active'"),
    ),
)

# What each batch tells of its device, written by every upload. Kept apart from
# ``devices`` (who a device is, written at enrolment, rotation and revocation — a reference
# table when sharded) so the per-request write lands on the device's site's shard.
device_status = Table(
    "device_status",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), ForeignKey("devices.id"), nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("last_boot_id", String(64), nullable=False),
    Column("clock_skew_ms", BigInteger, nullable=False),
    Column("backlog", Integer, nullable=False),
    Column("synced_until_ms", BigInteger, comment="Hub time up to which the device has sent all."),
    Column("trust_version", BigInteger, comment="Trust list version the device applied."),
    Column("policy_version", Integer, comment="Version of the site's rules the device applies."),
    Column("trust_fetched_ms", BigInteger, comment="When the device received that trust list."),
    Column("software", String(32)),
    PrimaryKeyConstraint("site_id", "device_id"),
    Index("device_status_by_last_seen", "last_seen_ms"),  # gates gone quiet, across a region
)

devices_with_status = devices.outerjoin(
    device_status,
    (device_status.c.site_id == devices.c.site_id) & (device_status.c.device_id == devices.c.id),
)
"""Each device with what its last upload told (nothing before its first)."""

# Each check log a device has used. A log is numbered from 0 in the order the hub first
# heard of it; the hub keeps log n's checks at seqs n·2^40 + seq (sync.protocol.LOG_SEQ_BITS),
# so a log started again after a loss never collides with the old one's numbers.
#
# Shard-ready (docs/hub.md "Sharding"): every table a check's data lands in carries the
# site id in every primary and unique key, so it can be distributed by site; the rule is
# held by tests/test_hub_shard_ready.py.
device_logs = Table(
    "device_logs",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), ForeignKey("devices.id"), nullable=False),
    Column("log_no", Integer, nullable=False),
    Column("log_id", String(32), comment="NULL: the first log, from before logs had ids."),
    Column("acked_seq", BigInteger, nullable=False, default=0, comment="In the log's own numbers."),
    Column("first_seen_ms", BigInteger, nullable=False),
    Column(
        "purged_seq",
        BigInteger,
        nullable=False,
        server_default="0",
        comment="Raw checks up to this seq were purged (never above acked_seq).",
    ),
    PrimaryKeyConstraint("site_id", "device_id", "log_no"),
    UniqueConstraint("site_id", "device_id", "log_id"),
)

# On PostgreSQL partitioned by month of ``received_ms`` (hub/core/partitions.py), which the
# primary key there must include; (site, device, seq) stays unique because ingest looks a
# check up across partitions under the device's lock before inserting it.
checks = Table(
    "checks",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), ForeignKey("devices.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("gate", String(GATE_MAX), nullable=False),
    Column("wall_ms", BigInteger, nullable=False),
    Column("mono_ms", BigInteger, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("event_ms", BigInteger, nullable=False, comment="Best estimate of when it happened."),
    Column("time_source", String(8), nullable=False, comment="device, anchored or received."),
    Column("local_date", String(10), nullable=False),
    Column("local_hour", SmallInteger, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reason", String(REASON_MAX), nullable=False),
    Column("temp_c", Float),
    Column("temp_source", String(8), nullable=False),
    Column("scheme", String(16)),
    Column("holder", String(ID_MAX)),
    Column("flags", String(FLAGS_TEXT_MAX), nullable=False, default=""),
    Column("refers_to", BigInteger, comment="The check of the same log this one acts on (fever cases)."),
    Column("policy_version", Integer, comment="The version of the site's rules it was decided under."),
    PrimaryKeyConstraint("site_id", "device_id", "seq"),
    Index("checks_by_site_day", "site_id", "local_date"),
    # What a gate later recorded about a check (an override, a fever's disposition), looked
    # up for every alert a page lists: a few rows among millions, found by the check they
    # refer to (migration 0017: without it each lookup read the device's next checks).
    Index(
        "checks_referring",
        "site_id",
        "device_id",
        "refers_to",
        postgresql_where=text("refers_to IS NOT NULL"),
        sqlite_where=text("refers_to IS NOT NULL"),
    ),
)

# A check that arrived under a (device, seq) the hub already holds with other content —
# a log restored from an old copy, a device that reused numbers. The first version stays
# in ``checks``; every other version is kept here and alerted, never dropped.
check_conflicts = Table(
    "check_conflicts",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("id", BigInteger, nullable=False, comment="Unique within the site (new_ids)."),
    Column("device_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("content", Text, nullable=False, comment="The check as this upload sent it (JSON)."),
    PrimaryKeyConstraint("site_id", "id"),
    Index("check_conflicts_by_check", "site_id", "device_id", "seq"),
)

# Who was seen and which devices reported, per site-day: unique people and "devices
# reporting" are counted from these, incrementally, like everything else.
daily_holders = Table(
    "daily_holders",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("holder", String(64), nullable=False),
    PrimaryKeyConstraint("site_id", "local_date", "holder"),
)

daily_devices = Table(
    "daily_devices",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("device_id", String(32), nullable=False),
    PrimaryKeyConstraint("site_id", "local_date", "device_id"),
)

# Fevers and red codes, raised at ingest for the managers (and the optional webhook), and
# what a device's logs tell of lost checks (a log started again, conflicting content).
alerts = Table(
    "alerts",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("id", BigInteger, nullable=False, comment="Unique within the site (new_ids)."),
    Column("device_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("gate", String(GATE_MAX), nullable=False),
    Column("reason", String(REASON_MAX), nullable=False),
    Column("temp_c", Float),
    Column("event_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("acked_by", String(64)),
    Column("acked_at_ms", BigInteger),
    Column("action", String(32), comment="What was done (hub.alerts.ACTIONS), with the acknowledgement."),
    Column("note", String(200)),
    Column("escalated_ms", BigInteger, comment="When it passed its reporting deadline unacknowledged."),
    PrimaryKeyConstraint("site_id", "id"),
    UniqueConstraint("site_id", "device_id", "seq", "reason", name="alerts_once"),
)

ALERT_OPEN = alerts.c.acked_at_ms.is_(None)
"""An alert is open until acknowledged — the one predicate every read of open alerts uses:
it is the ``alerts_open`` index's, so those reads find the few open alerts among years of
acknowledged ones through the index (a read asking ``acked_by IS NULL`` instead, true of
the same rows, scanned the whole table: the planner cannot tell the two are one)."""
Index("alerts_open", alerts.c.site_id, postgresql_where=ALERT_OPEN, sqlite_where=ALERT_OPEN)

# Every version of each site's gate rules: who changed what, why, and from when it applies
# (a change may be set ahead of its day). The policy in force is the newest version whose
# effective time has come (hub/policies.py).
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("policy", Text, nullable=False, comment="The whole policy (JSON), not just the change."),
    Column("effective_from_ms", BigInteger, nullable=False),
    Column("author", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column(
        "overrides",
        Text,
        nullable=False,
        server_default="{}",
        comment="The fields the site set itself (JSON); the rest is inherited.",
    ),
    PrimaryKeyConstraint("site_id", "version"),
)

# Defaults set for every site of an organisation or below a region, versioned like a
# site's rules; ``locked`` names the fields no level below may change (hub/policies.py).
policy_defaults = Table(
    "policy_defaults",
    metadata,
    Column("scope", String(48), nullable=False, comment="org:<id> or region:<id>."),
    Column("version", Integer, nullable=False),
    Column("fields", Text, nullable=False, comment="The level's defaults (JSON object)."),
    Column("locked", Text, nullable=False, comment="Fields levels below may not change (JSON)."),
    Column("effective_from_ms", BigInteger, nullable=False),
    Column("author", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope", "version"),
)

# The sites' visitor ledgers, as the gates' visitor books send them (002:733, 002:829):
# one row per entry of a device's book (its log's numbering), closed when they leave.
visitors = Table(
    "visitors",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("log_id", String(32), nullable=False),
    Column("visitor_id", BigInteger, nullable=False),
    Column("gate", String(GATE_MAX), nullable=False),
    Column("check_seq", BigInteger, nullable=False),
    Column("name", String(40), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("host", String(80), nullable=False),
    Column("purpose", String(120), nullable=False),
    Column("escort", String(40)),
    Column("entered_ms", BigInteger, nullable=False),
    Column("left_ms", BigInteger),
    Column("received_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("site_id", "device_id", "log_id", "visitor_id"),
    Index("visitors_by_site_entered", "site_id", "entered_ms"),
)

# Every time someone saw visitors' names and phone numbers in full (privacy, 002:1025).
name_views = Table(
    "name_views",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("username", String(64), nullable=False),
    Column("viewed_ms", BigInteger, nullable=False),
    Column("what", String(64), nullable=False, comment="Which ledger page was shown in full."),
    PrimaryKeyConstraint("site_id", "viewed_ms", "username"),
)

# A manager's confirmation of a site-day's report ("已核对上报"): who, when, and what the
# report said then (a zero report, or one with incidents).
report_confirmations = Table(
    "report_confirmations",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("state", String(16), nullable=False, comment="The report's state when confirmed."),
    Column("username", String(64), nullable=False),
    Column("confirmed_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("site_id", "local_date"),
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False, comment="admin or manager"),
    Column("created_at_ms", BigInteger, nullable=False),
)

user_sites = Table(
    "user_sites",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    PrimaryKeyConstraint("username", "site_id"),
)

# An officer's regions: they see every site below each (a city's officer, a district's).
user_regions = Table(
    "user_regions",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("region_id", String(32), ForeignKey("regions.id"), nullable=False),
    PrimaryKeyConstraint("username", "region_id"),
)

# Dashboard sessions (hub/sessions.py): the cookie's token hashed, so a copy of the
# database cannot be used to log in.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "username", String(64), ForeignKey("users.username", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# Clock skew per (device, boot): device wall clock minus hub clock, measured per batch.
# A Pi without RTC may run a whole boot in 1970; its checks are re-anchored with this.
device_boots = Table(
    "device_boots",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("skew_ms", BigInteger, nullable=False),
    Column("mono_offset_ms", BigInteger, nullable=False, comment="hub time minus device monotonic"),
    Column("last_seen_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("site_id", "device_id", "boot_id"),
)

# Nonces of signed requests seen within the replay window.
nonces = Table(
    "nonces",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("device_id", String(32), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_ms", BigInteger, nullable=False, index=True),
    PrimaryKeyConstraint("site_id", "device_id", "nonce"),
)

# The trust list every device receives: gc1 issuer keys, EU DCC signer certificates and
# revoked codes. Its version is the newest change's timestamp.
issuers = Table(
    "issuers",
    metadata,
    Column("kid", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
)

signer_certs = Table(
    "signer_certs",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("der", LargeBinary, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("created_at_ms", BigInteger, nullable=False),
)

daily_counts = Table(
    "daily_counts",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("metric", String(METRIC_MAX), nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint("site_id", "local_date", "metric"),
    # The all-sites overview reads a few metrics of a few days across every site. Not
    # ``n``: adding to a count then updates the row in place (migration 0016).
    Index("daily_counts_by_day", "local_date", "site_id", "metric"),
)

# Sums of the sites' daily counts per region (every ancestor of a site's region), category
# and local day — what the region pages read, whatever the number of sites below. Kept by
# folding ``rollup_pending`` (hub/rollups.py): ingest and recompute add their count
# changes there, per site, so no upload waits on a city-wide row.
region_daily = Table(
    "region_daily",
    metadata,
    Column("region_id", String(32), nullable=False),
    Column("category_id", String(32), nullable=False, comment="'-': no category."),
    Column("local_date", String(10), nullable=False),
    *(Column(name, Integer, nullable=False, server_default="0") for name in ROLLUP_METRICS),
    PrimaryKeyConstraint("region_id", "local_date", "category_id"),
)

# How many sites each region has (itself and below) per category, kept by placement.
region_sites = Table(
    "region_sites",
    metadata,
    Column("region_id", String(32), nullable=False),
    Column("category_id", String(32), nullable=False, comment="'-': no category."),
    Column("sites", Integer, nullable=False),
    PrimaryKeyConstraint("region_id", "category_id"),
)

rollup_pending = Table(
    "rollup_pending",
    metadata,
    Column("site_id", String(32), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint("site_id", "local_date", "metric"),
)


def new_ids(conn: Connection, table: Table, site_id: str, n: int) -> list[int]:
    """``n`` ids for new rows of the site's ``alerts`` or ``check_conflicts``.

    Their keys are (site id, id) so the tables can be distributed by site, which rules out
    a serial primary key; PostgreSQL draws from the table's sequence (``<table>_ids``;
    Citus hands every node its own range of it), SQLite — one writer at a time, and this
    runs inside the writer's transaction — counts on from the site's largest id."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        drawn = conn.exec_driver_sql(f"SELECT nextval('{table.name}_ids') FROM generate_series(1, {int(n)})")
        return [int(i) for (i,) in drawn]
    start = int(
        conn.scalar(select(func.coalesce(func.max(table.c.id), 0)).where(table.c.site_id == site_id)) or 0
    )
    return list(range(start + 1, start + 1 + n))


PARTITION_NAME = re.compile(r"^checks_(default|p\d{6})$")
"""PostgreSQL partitions of ``checks`` (hub/core/partitions.py), made outside the declared tables."""


def include_in_schema(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Alembic's filter: the month partitions (and their indexes) are data, not schema."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not (reflected and table is not None and PARTITION_NAME.match(table))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


Bind = Engine | Connection
"""Where a read runs: a page's own connection (its reads share one checkout and one
transaction) or the engine (a connection of the read's own)."""


@contextmanager
def reading(db: Bind) -> Iterator[Connection]:
    """The connection a read uses: the caller's when it passes one, else one from the pool
    for this read (or a page's reads) alone — a page reads a dozen things; on one
    connection that is a dozen statements, not a dozen checkouts.

    On PostgreSQL a connection of its own reads outside a transaction (autocommit): each
    statement sees what was committed when it started either way (READ COMMITTED), and
    the read then sends no BEGIN before its first statement and no ROLLBACK after — two
    round trips of an overview's ten, each of which waits its turn for a core under load.
    Nothing that writes runs here (the writes have ``engine.begin()``)."""
    if isinstance(db, Connection):
        yield db
    else:
        with db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn


def make_engine(url: str, connections: int = 8, idle_ping_s: float = IDLE_PING_S) -> Engine:
    """An engine for the hub database; SQLite files are created owner-only (they hold keys
    and password hashes) and get WAL and a generous busy timeout.

    The pool keeps ``connections`` open and as many again for bursts (a request that
    nests, the background rounds). Its defaults (5 kept, 10 more opened and *closed*
    again) made PostgreSQL start a backend process for most requests under load — ~12 a
    second in bench/fleet.py; the serving process bounds its worker threads to the same
    number (hub.main), so the extra ones are rarely opened. A PostgreSQL connection is
    tested before use only after ``idle_ping_s`` in the pool (hub.core.idle_ping), and
    keeps its prepared statements across rollbacks (hub.core.prepared)."""
    engine = create_engine(url, pool_size=connections, max_overflow=connections)
    if engine.dialect.name == "postgresql":
        keep_statements_prepared(engine)
    if engine.dialect.name != "sqlite":
        ping_after_idle(engine, idle_ping_s)
    else:
        event.listen(engine, "connect", _sqlite_pragmas)
        if engine.url.database and engine.url.database != ":memory:":
            create_private_file(Path(engine.url.database))
    return engine


MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def create_schema(engine: Engine) -> list[Month]:
    """Bring the database to the newest schema with the Alembic migrations (idempotent),
    then make the raw checks' month partitions due (PostgreSQL); returns those made.
    Run once per upgrade — by ``gatecheck hub migrate``, never by serving processes."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    refresh_statistics(engine)
    return ensure_months(engine, int(time.time() * 1000))


def refresh_statistics(engine: Engine) -> None:
    """Let SQLite's planner see the tables as they are now: without statistics it walks
    region pages from the wrong end (a province's page: 1.1 s instead of 40 ms measured).
    Bounded (``analysis_limit``) so it takes milliseconds on a large file; run at
    migration and hourly by the hub. PostgreSQL's autovacuum does the same by itself."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=400")
        conn.exec_driver_sql("ANALYZE")


class SchemaMismatch(Exception):
    """The database is not at the schema this software was written for."""


def current_schema(engine: Engine) -> str | None:
    """The schema revision the database is at (None: empty)."""
    with engine.connect() as conn:
        revision: str | None = MigrationContext.configure(conn).get_current_revision()
    return revision


def require_schema(engine: Engine) -> None:
    """Refuse a database at another schema revision than this software's, rather than
    change it: several hub processes start at once, and only ``gatecheck hub migrate``
    (run once, before them) may migrate."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = current_schema(engine)
    if current != head:
        raise SchemaMismatch(
            f"the hub database is at schema revision {current or 'none (empty)'}, this software needs "
            f"{head}: run 'gatecheck hub migrate' once (with the same --database-url), then start the hub"
        )
