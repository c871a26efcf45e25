"""checks.refers_to: the earlier check of the same log a check acts on (a re-test, an
override, a fever's disposition), so the hub can follow a fever case through

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL the partitioned table passes the column to every partition.
    op.add_column(
        "checks",
        sa.Column(
            "refers_to",
            sa.BigInteger(),
            nullable=True,
            comment="The check of the same log this one acts on (fever cases).",
        ),
    )


def downgrade() -> None:
    op.drop_column("checks", "refers_to")
