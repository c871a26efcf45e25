"""report_confirmations: a manager confirms a site-day's report (who, when, what it said)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_confirmations",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        sa.Column(
            "state", sa.String(length=16), nullable=False, comment="The report's state when confirmed."
        ),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("confirmed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "local_date"),
    )


def downgrade() -> None:
    op.drop_table("report_confirmations")
