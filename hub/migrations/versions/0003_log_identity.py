"""check log identities, conflicting checks, columns as wide as the protocol allows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Widths fixed here, not imported: a migration describes the schema as it was that day.
GATE_MAX, METRIC_MAX = 64, 69


def _alerts(unique: tuple[str, ...], name: str | None) -> sa.Table:
    return sa.Table(
        "alerts",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("gate", sa.String(length=GATE_MAX), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("temp_c", sa.Float(), nullable=True),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("acked_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique, name=name),
        sa.Index("ix_alerts_site_id", "site_id"),
    )


def upgrade() -> None:
    op.create_table(
        "device_logs",
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
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.PrimaryKeyConstraint("device_id", "log_no"),
        sa.UniqueConstraint("device_id", "log_id"),
    )
    # Every device's log so far becomes its log 0; the first upload with an id claims it.
    op.execute(
        "INSERT INTO device_logs (device_id, log_no, log_id, acked_seq, first_seen_ms) "
        "SELECT id, 0, NULL, acked_seq, created_at_ms FROM devices"
    )
    with op.batch_alter_table("devices") as batch_op:
        batch_op.drop_column("acked_seq")
    op.create_table(
        "check_conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, comment="The check as this upload sent it (JSON)."),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_check_conflicts_site_id", "check_conflicts", ["site_id"])
    # One alert per (check, reason): a conflict on a check that raised a fever alerts too.
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("alerts_device_id_seq_key", "alerts", type_="unique")
        op.create_unique_constraint("alerts_once", "alerts", ["device_id", "seq", "reason"])
    else:  # SQLite: the table is copied; its old constraint had no name to drop it by
        with op.batch_alter_table(
            "alerts", recreate="always", copy_from=_alerts(("device_id", "seq", "reason"), "alerts_once")
        ):
            pass
    # "gate:<64 characters>" did not fit (PostgreSQL refused the whole batch).
    with op.batch_alter_table("daily_counts") as batch_op:
        batch_op.alter_column("metric", type_=sa.String(length=METRIC_MAX))


def downgrade() -> None:
    with op.batch_alter_table("daily_counts") as batch_op:
        batch_op.alter_column("metric", type_=sa.String(length=64))
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("alerts_once", "alerts", type_="unique")
        op.create_unique_constraint("alerts_device_id_seq_key", "alerts", ["device_id", "seq"])
    else:
        with op.batch_alter_table("alerts", recreate="always", copy_from=_alerts(("device_id", "seq"), None)):
            pass
    op.drop_index("ix_check_conflicts_site_id", table_name="check_conflicts")
    op.drop_table("check_conflicts")
    with op.batch_alter_table("devices") as batch_op:
        batch_op.add_column(sa.Column("acked_seq", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE devices SET acked_seq = (SELECT max(acked_seq) FROM device_logs "
        "WHERE device_logs.device_id = devices.id)"
    )
    op.drop_table("device_logs")
