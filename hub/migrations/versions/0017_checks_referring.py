"""checks found by the check they refer to: a partial index on (site, device, refers_to)

Every alert a page lists asks whether a guard later overrode the check or recorded the
fever's disposition — a check of the same device whose ``refers_to`` is the alerted seq.
Without an index on it each lookup read up to a thousand of the device's next checks
(bench/fleet.py at the peak: the overview's open alerts took ~8 ms of PostgreSQL, 20
alerts × 2 lookups × ~600 rows). Only checks that act on another have ``refers_to``, so
the index holds a few rows. Building it reads the checks once (on PostgreSQL it locks
the table against writes meanwhile: run ``hub migrate`` when the gates are quiet).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERRING = sa.text("refers_to IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "checks_referring",
        "checks",
        ["site_id", "device_id", "refers_to"],
        postgresql_where=REFERRING,
        sqlite_where=REFERRING,
    )


def downgrade() -> None:
    op.drop_index("checks_referring", table_name="checks")
