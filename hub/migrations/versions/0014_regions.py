"""regions (a tree of any depth, with its closure), venue categories (the 8 of 001:22 and
001:26 as defaults), each site placed in one region and one category, officers scoped to
regions, rollups per region/category/day folded from pending deltas, each site's report
completeness, and policy defaults per organisation and region

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_CATEGORIES = (
    ("market", "商超市场", "Supermarkets and markets"),
    ("school", "学校", "Schools"),
    ("medical", "医疗机构", "Medical institutions"),
    ("elderly_care", "养老机构", "Elderly-care homes"),
    ("hotel", "宾馆酒店", "Hotels"),
    ("transport", "交通场站", "Transport stations"),
    ("bank", "银行网点", "Banks"),
    ("residential", "居民小区", "Residential compounds"),
)
"""As the migration seeded them; editable afterwards (``gatecheck provision category``)."""

ROLLUP_COLUMNS = (
    "checks", "admitted", "denied", "fevers", "code_red", "refused",
    "holders", "overrides", "temp_manual", "visitors", "devices",
)  # fmt: skip
"""hub.counting.ROLLUP_METRICS when this migration was written."""


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["regions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("parent_id", "name", name="regions_name_under_parent"),
    )
    op.create_table(
        "region_paths",
        sa.Column("ancestor_id", sa.String(length=32), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("depth", sa.SmallInteger(), nullable=False, comment="0: the region itself."),
        sa.ForeignKeyConstraint(["ancestor_id"], ["regions.id"]),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"]),
        sa.PrimaryKeyConstraint("ancestor_id", "region_id"),
    )
    op.create_index("region_paths_up", "region_paths", ["region_id", "ancestor_id"])
    categories = op.create_table(
        "categories",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        categories,
        [
            {"id": cid, "name_zh": zh, "name_en": en, "position": i}
            for i, (cid, zh, en) in enumerate(DEFAULT_CATEGORIES, start=1)
        ],
    )
    for column, target in (("region_id", "regions"), ("category_id", "categories")):
        if op.get_bind().dialect.name == "sqlite":
            # ALTER TABLE … ADD COLUMN … REFERENCES in place: rebuilding sites (batch mode)
            # would trip the foreign keys that point at it.
            op.execute(f"ALTER TABLE sites ADD COLUMN {column} VARCHAR(32) REFERENCES {target} (id)")
        else:
            op.add_column("sites", sa.Column(column, sa.String(length=32), sa.ForeignKey(f"{target}.id")))
    op.create_index("sites_by_region", "sites", ["region_id", "category_id"])
    op.create_table(
        "user_regions",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"]),
        sa.PrimaryKeyConstraint("username", "region_id"),
    )
    op.create_table(
        "site_sync",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column(
            "complete_until_ms", sa.BigInteger(), nullable=True,
            comment="Every active gate has sent all it recorded up to here (NULL: no active gate).",
        ),
        sa.Column(
            "due_ms", sa.BigInteger(), nullable=True,
            comment="Deadline of the first local day not complete (NULL: no active gate).",
        ),
        sa.Column("region_id", sa.String(length=32), nullable=True, comment="The site's (sites.region_id)."),
        sa.PrimaryKeyConstraint("site_id"),
    )  # fmt: skip
    op.create_index("site_sync_by_due", "site_sync", ["due_ms", "site_id"])
    op.create_index("site_sync_by_region", "site_sync", ["region_id", "site_id"])
    op.create_table(
        "region_daily",
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("category_id", sa.String(length=32), nullable=False, comment="'-': no category."),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in ROLLUP_COLUMNS),
        sa.PrimaryKeyConstraint("region_id", "local_date", "category_id"),
    )
    op.create_table(
        "region_sites",
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("category_id", sa.String(length=32), nullable=False, comment="'-': no category."),
        sa.Column("sites", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_id", "category_id"),
    )
    op.create_table(
        "rollup_pending",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "local_date", "metric"),
    )
    op.create_table(
        "policy_defaults",
        sa.Column("scope", sa.String(length=48), nullable=False, comment="org:<id> or region:<id>."),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False, comment="The level's defaults (JSON object)."),
        sa.Column("locked", sa.Text(), nullable=False, comment="Fields levels below may not change (JSON)."),
        sa.Column("effective_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "version"),
    )
    op.add_column(
        "policy_versions",
        sa.Column(
            "overrides", sa.Text(), nullable=False, server_default="{}",
            comment="The fields the site set itself (JSON); the rest is inherited.",
        ),
    )  # fmt: skip
    op.create_index("device_status_by_last_seen", "device_status", ["last_seen_ms"])
    op.create_index(
        "devices_not_active", "devices", ["id"],
        postgresql_where=sa.text("status <> 'active'"), sqlite_where=sa.text("status <> 'active'"),
    )  # fmt: skip
    op.create_index(
        "alerts_open", "alerts", ["site_id"],
        postgresql_where=sa.text("acked_at_ms IS NULL"), sqlite_where=sa.text("acked_at_ms IS NULL"),
    )  # fmt: skip
    _sites_own_rules()
    _sites_sync()


def _sites_own_rules() -> None:
    """Until now every field of a site's rules was the site's own: keep, as its overrides,
    each field that differs from the built-in default (the newest version's)."""
    from core.policy import Policy

    defaults = json.loads(Policy().model_dump_json())
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT site_id, version, policy FROM policy_versions")).all()
    for site_id, version, policy in rows:
        own = {k: v for k, v in json.loads(policy).items() if defaults.get(k) != v}
        bind.execute(
            sa.text("UPDATE policy_versions SET overrides = :o WHERE site_id = :s AND version = :v"),
            {"o": json.dumps(own), "s": site_id, "v": version},
        )


def _sites_sync() -> None:
    """Each site's completeness from its active gates (hub.site_sync, as of this migration):
    a gate owes everything since it was enrolled and has sent all up to ``synced_until_ms``."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT s.id, s.timezone, s.report_deadline, MIN(COALESCE(st.synced_until_ms, d.created_at_ms)) "
            "FROM sites s LEFT JOIN devices d ON d.site_id = s.id AND d.status = 'active' "
            "LEFT JOIN device_status st ON st.site_id = d.site_id AND st.device_id = d.id "
            "GROUP BY s.id, s.timezone, s.report_deadline"
        )
    ).all()
    for site_id, timezone, deadline, until in rows:
        due = None
        if until is not None:
            tz = ZoneInfo(timezone)
            day = datetime.fromtimestamp(until / 1000, tz).date() + timedelta(days=1)
            hour, minute = (int(p) for p in deadline.split(":"))
            due = int(datetime.combine(day, time(hour, minute), tzinfo=tz).timestamp() * 1000)
        bind.execute(
            sa.text("INSERT INTO site_sync (site_id, complete_until_ms, due_ms) VALUES (:s, :u, :d)"),
            {"s": site_id, "u": until, "d": due},
        )


def downgrade() -> None:
    op.drop_index("devices_not_active", table_name="devices")
    op.drop_index("alerts_open", table_name="alerts")
    op.drop_index("device_status_by_last_seen", table_name="device_status")
    op.drop_column("policy_versions", "overrides")
    op.drop_table("policy_defaults")
    op.drop_table("rollup_pending")
    op.drop_table("region_sites")
    op.drop_table("region_daily")
    op.drop_index("site_sync_by_region", table_name="site_sync")
    op.drop_index("site_sync_by_due", table_name="site_sync")
    op.drop_table("site_sync")
    op.drop_table("user_regions")
    op.drop_index("sites_by_region", table_name="sites")
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("category_id")
        batch_op.drop_column("region_id")
    op.drop_table("categories")
    op.drop_index("region_paths_up", table_name="region_paths")
    op.drop_table("region_paths")
    op.drop_table("regions")
