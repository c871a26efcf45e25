"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("gate", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("temp_c", sa.Float(), nullable=True),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("acked_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "seq"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_site_id"), ["site_id"], unique=False)

    op.create_table(
        "daily_counts",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "local_date", "metric"),
    )
    with op.batch_alter_table("daily_counts", schema=None) as batch_op:
        batch_op.create_index("daily_counts_by_day", ["local_date", "site_id", "metric", "n"], unique=False)

    op.create_table(
        "daily_devices",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "local_date", "device_id"),
    )
    op.create_table(
        "daily_holders",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "local_date", "holder"),
    )
    op.create_table(
        "device_boots",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=False),
        sa.Column("skew_ms", sa.BigInteger(), nullable=False),
        sa.Column(
            "mono_offset_ms", sa.BigInteger(), nullable=False, comment="hub time minus device monotonic"
        ),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "boot_id"),
    )
    op.create_table(
        "issuers",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "nonces",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "nonce"),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nonces_seen_ms"), ["seen_ms"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "revocations",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "signer_certs",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False, comment="admin or manager"),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("report_deadline", sa.String(length=5), nullable=False, comment="Local HH:MM, next day."),
        sa.Column("pseudonym_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_org_id"), ["org_id"], unique=False)

    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("gate", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_boot_id", sa.String(length=64), nullable=True),
        sa.Column("clock_skew_ms", sa.BigInteger(), nullable=True),
        sa.Column("backlog", sa.Integer(), nullable=True),
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
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_site_id"), ["site_id"], unique=False)

    op.create_table(
        "user_sites",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["username"],
            ["users.username"],
        ),
        sa.PrimaryKeyConstraint("username", "site_id"),
    )
    op.create_table(
        "checks",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("gate", sa.String(length=64), nullable=False),
        sa.Column("wall_ms", sa.BigInteger(), nullable=False),
        sa.Column("mono_ms", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("event_ms", sa.BigInteger(), nullable=False, comment="Best estimate of when it happened."),
        sa.Column(
            "time_source", sa.String(length=8), nullable=False, comment="device, anchored or received."
        ),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("temp_c", sa.Float(), nullable=True),
        sa.Column("temp_source", sa.String(length=8), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=True),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("flags", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.PrimaryKeyConstraint("device_id", "seq"),
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.create_index("checks_by_site_day", ["site_id", "local_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index("checks_by_site_day")

    op.drop_table("checks")
    op.drop_table("user_sites")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_site_id"))

    op.drop_table("devices")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_org_id"))

    op.drop_table("sites")
    op.drop_table("users")
    op.drop_table("signer_certs")
    op.drop_table("revocations")
    op.drop_table("organisations")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonces_seen_ms"))

    op.drop_table("nonces")
    op.drop_table("issuers")
    op.drop_table("device_boots")
    op.drop_table("daily_holders")
    op.drop_table("daily_devices")
    with op.batch_alter_table("daily_counts", schema=None) as batch_op:
        batch_op.drop_index("daily_counts_by_day")

    op.drop_table("daily_counts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_site_id"))

    op.drop_table("alerts")
