"""region rollups also sum the four checks' and the gate routine's daily counts: complete
admissions, exits, courier hand-overs and vehicle entries — so an officer sees the
"complete checks %" of a whole city from the rollups, like its other numbers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP_COLUMNS = (
    "checks", "admitted", "denied", "fevers", "code_red", "refused",
    "holders", "overrides", "temp_manual", "visitors", "devices",
    "complete", "exits", "handovers", "vehicles",
)  # fmt: skip
"""hub.counting.ROLLUP_METRICS when this migration was written."""
NEW_COLUMNS = ROLLUP_COLUMNS[-4:]


def upgrade() -> None:
    with op.batch_alter_table("region_daily") as batch_op:
        for name in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    # Recount every rollup from the sites' daily counts (the new columns have history, and a
    # day with exits only has no row yet); deltas not yet folded are in those counts already.
    sums = ", ".join(f"sum(CASE WHEN d.metric = '{m}' THEN d.n ELSE 0 END)" for m in ROLLUP_COLUMNS)
    names = ", ".join(ROLLUP_COLUMNS)
    metrics = ", ".join(f"'{m}'" for m in ROLLUP_COLUMNS)
    op.execute("DELETE FROM rollup_pending")
    op.execute("DELETE FROM region_daily")
    op.execute(
        f"INSERT INTO region_daily (region_id, category_id, local_date, {names}) "
        f"SELECT p.ancestor_id, coalesce(s.category_id, '-'), d.local_date, {sums} "
        "FROM sites s JOIN region_paths p ON p.region_id = s.region_id "
        f"JOIN daily_counts d ON d.site_id = s.id AND d.metric IN ({metrics}) "
        "GROUP BY p.ancestor_id, coalesce(s.category_id, '-'), d.local_date"
    )


def downgrade() -> None:
    with op.batch_alter_table("region_daily") as batch_op:
        for name in NEW_COLUMNS:
            batch_op.drop_column(name)
