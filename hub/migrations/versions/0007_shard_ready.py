"""shard-ready keys (the site id in every key of the check tables), per-upload device
state apart from device identity, raw checks partitioned by month on PostgreSQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Widths fixed here, not imported: a migration describes the schema as it was that day.
GATE_MAX, ID_MAX, REASON_MAX, FLAGS_TEXT_MAX = 64, 64, 40, 200

SITE_OF_DEVICE = "(SELECT site_id FROM devices WHERE devices.id = old.device_id)"

STATUS_COLUMNS = ("last_seen_ms", "last_boot_id", "clock_skew_ms", "backlog", "synced_until_ms",
                  "trust_version", "trust_fetched_ms", "software")  # fmt: skip


def _site() -> sa.Column[Any]:
    return sa.Column("site_id", sa.String(length=32), nullable=False)


def _rebuild(
    name: str,
    create: Callable[[], object],
    site_id: str = "old.site_id",
    after: Callable[[], None] | None = None,
) -> None:
    """Re-create a table with its new keys, rows kept. The old rows wait in a holding
    table with no constraints, so every name (constraints, indexes, sequences) is free
    for the new table on both databases."""
    op.execute(f"CREATE TABLE _hold_{name} AS SELECT {site_id} AS new_site_id, old.* FROM {name} old")
    op.drop_table(name)
    create()
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(name)]
    chosen = ", ".join("new_site_id" if c == "site_id" else c for c in columns)
    op.execute(f"INSERT INTO {name} ({', '.join(columns)}) SELECT {chosen} FROM _hold_{name}")
    op.drop_table(f"_hold_{name}")
    if after is not None:
        after()


def _id_sequence(table: str) -> Callable[[], None]:
    """PostgreSQL: the sequence ``hub.core.db.new_ids`` draws from, past the ids kept."""

    def create() -> None:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"CREATE SEQUENCE {table}_ids")
            op.execute(f"SELECT setval('{table}_ids', coalesce(max(id), 0) + 1, false) FROM {table}")

    return create


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"

    op.create_table(
        "device_status",
        _site(),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_boot_id", sa.String(length=64), nullable=False),
        sa.Column("clock_skew_ms", sa.BigInteger(), nullable=False),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.Column(
            "synced_until_ms",
            sa.BigInteger(),
            nullable=True,
            comment="Hub time up to which the device has sent all.",
        ),
        sa.Column(
            "trust_version", sa.BigInteger(), nullable=True, comment="Trust list version the device applied."
        ),
        sa.Column(
            "trust_fetched_ms",
            sa.BigInteger(),
            nullable=True,
            comment="When the device received that trust list.",
        ),
        sa.Column("software", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.PrimaryKeyConstraint("site_id", "device_id"),
    )
    op.execute(
        f"INSERT INTO device_status (site_id, device_id, {', '.join(STATUS_COLUMNS)}) "
        f"SELECT site_id, id, {', '.join(STATUS_COLUMNS)} FROM devices WHERE last_seen_ms IS NOT NULL"
    )
    for column in STATUS_COLUMNS:  # plain columns: both databases drop them in place
        op.execute(f"ALTER TABLE devices DROP COLUMN {column}")

    _rebuild(
        "device_logs",
        lambda: op.create_table(
            "device_logs",
            _site(),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("log_no", sa.Integer(), nullable=False),
            sa.Column(
                "log_id",
                sa.String(length=32),
                nullable=True,
                comment="NULL: the first log, from before logs had ids.",
            ),
            sa.Column("acked_seq", sa.BigInteger(), nullable=False, comment="In the log's own numbers."),
            sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
            sa.Column(
                "purged_seq",
                sa.BigInteger(),
                nullable=False,
                server_default="0",
                comment="Raw checks up to this seq were purged (never above acked_seq).",
            ),
            sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
            sa.PrimaryKeyConstraint("site_id", "device_id", "log_no"),
            sa.UniqueConstraint("site_id", "device_id", "log_id"),
        ),
        site_id=SITE_OF_DEVICE,
    )

    partitioning: dict[str, Any] = {"postgresql_partition_by": "RANGE (received_ms)"} if postgresql else {}

    def create_checks() -> None:
        # PostgreSQL: partitioned by month of receipt; the key must hold the partition
        # column. Rows start in the default partition; ``gatecheck hub migrate`` then
        # moves them into their months (hub/core/partitions.py).
        op.create_table(
            "checks",
            _site(),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("gate", sa.String(length=GATE_MAX), nullable=False),
            sa.Column("wall_ms", sa.BigInteger(), nullable=False),
            sa.Column("mono_ms", sa.BigInteger(), nullable=False),
            sa.Column("boot_id", sa.String(length=64), nullable=False),
            sa.Column("received_ms", sa.BigInteger(), nullable=False),
            sa.Column(
                "event_ms", sa.BigInteger(), nullable=False, comment="Best estimate of when it happened."
            ),
            sa.Column(
                "time_source", sa.String(length=8), nullable=False, comment="device, anchored or received."
            ),
            sa.Column("local_date", sa.String(length=10), nullable=False),
            sa.Column("local_hour", sa.SmallInteger(), nullable=False),
            sa.Column("verdict", sa.String(length=16), nullable=False),
            sa.Column("reason", sa.String(length=REASON_MAX), nullable=False),
            sa.Column("temp_c", sa.Float(), nullable=True),
            sa.Column("temp_source", sa.String(length=8), nullable=False),
            sa.Column("scheme", sa.String(length=16), nullable=True),
            sa.Column("holder", sa.String(length=ID_MAX), nullable=True),
            sa.Column("flags", sa.String(length=FLAGS_TEXT_MAX), nullable=False),
            sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
            sa.PrimaryKeyConstraint("site_id", "device_id", "seq", *(("received_ms",) if postgresql else ())),
            **partitioning,
        )
        if postgresql:
            op.execute("CREATE TABLE checks_default PARTITION OF checks DEFAULT")
        op.create_index("checks_by_site_day", "checks", ["site_id", "local_date"])

    _rebuild("checks", create_checks)

    def create_conflicts() -> None:
        op.create_table(
            "check_conflicts",
            _site(),
            sa.Column("id", sa.BigInteger(), nullable=False, comment="Unique within the site (new_ids)."),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("received_ms", sa.BigInteger(), nullable=False),
            sa.Column(
                "content", sa.Text(), nullable=False, comment="The check as this upload sent it (JSON)."
            ),
            sa.PrimaryKeyConstraint("site_id", "id"),
        )
        op.create_index("check_conflicts_by_check", "check_conflicts", ["site_id", "device_id", "seq"])

    _rebuild("check_conflicts", create_conflicts, after=_id_sequence("check_conflicts"))

    def create_alerts() -> None:
        op.create_table(
            "alerts",
            _site(),
            sa.Column("id", sa.BigInteger(), nullable=False, comment="Unique within the site (new_ids)."),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("gate", sa.String(length=GATE_MAX), nullable=False),
            sa.Column("reason", sa.String(length=REASON_MAX), nullable=False),
            sa.Column("temp_c", sa.Float(), nullable=True),
            sa.Column("event_ms", sa.BigInteger(), nullable=False),
            sa.Column("received_ms", sa.BigInteger(), nullable=False),
            sa.Column("acked_by", sa.String(length=64), nullable=True),
            sa.Column("acked_at_ms", sa.BigInteger(), nullable=True),
            sa.PrimaryKeyConstraint("site_id", "id"),
            sa.UniqueConstraint("site_id", "device_id", "seq", "reason", name="alerts_once"),
        )

    _rebuild("alerts", create_alerts, after=_id_sequence("alerts"))

    _rebuild(
        "device_boots",
        lambda: op.create_table(
            "device_boots",
            _site(),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("boot_id", sa.String(length=64), nullable=False),
            sa.Column("skew_ms", sa.BigInteger(), nullable=False),
            sa.Column(
                "mono_offset_ms", sa.BigInteger(), nullable=False, comment="hub time minus device monotonic"
            ),
            sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("site_id", "device_id", "boot_id"),
        ),
        site_id=SITE_OF_DEVICE,
    )

    def create_nonces() -> None:
        op.create_table(
            "nonces",
            _site(),
            sa.Column("device_id", sa.String(length=32), nullable=False),
            sa.Column("nonce", sa.String(length=64), nullable=False),
            sa.Column("seen_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("site_id", "device_id", "nonce"),
        )
        op.create_index("ix_nonces_seen_ms", "nonces", ["seen_ms"])

    _rebuild("nonces", create_nonces, site_id=SITE_OF_DEVICE)


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0007 re-keys and partitions the check tables; to go back, restore the backup "
        "taken before upgrading ('gatecheck hub backup', docs/hub.md)"
    )
