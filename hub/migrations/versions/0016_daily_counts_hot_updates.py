"""daily counts updated in place: the by-day index no longer holds ``n``, and on PostgreSQL
pages are left 30 % free, so adding to a count is a HOT update (no index entries written)

Every upload adds to a handful of its site's counts for today: with ``n`` in an index
each addition wrote a new entry into both indexes and left the old row behind — 82,783
updates in a minute of bench/fleet.py, none of them HOT, the table 20× its live size by
the end. The overview's reads by day still use the index, and fetch ``n`` from the row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 70


def upgrade() -> None:
    with op.batch_alter_table("daily_counts") as batch_op:
        batch_op.drop_index("daily_counts_by_day")
        batch_op.create_index("daily_counts_by_day", ["local_date", "site_id", "metric"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE daily_counts SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE daily_counts RESET (fillfactor)")
    with op.batch_alter_table("daily_counts") as batch_op:
        batch_op.drop_index("daily_counts_by_day")
        batch_op.create_index("daily_counts_by_day", ["local_date", "site_id", "metric", "n"], unique=False)
