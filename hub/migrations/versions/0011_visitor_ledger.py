"""visitors (the gates' visitor books at the hub) and name_views (every full view of their
names and phone numbers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visitors",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("log_id", sa.String(length=32), nullable=False),
        sa.Column("visitor_id", sa.BigInteger(), nullable=False),
        sa.Column("gate", sa.String(length=64), nullable=False),
        sa.Column("check_seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("escort", sa.String(length=40), nullable=True),
        sa.Column("entered_ms", sa.BigInteger(), nullable=False),
        sa.Column("left_ms", sa.BigInteger(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "device_id", "log_id", "visitor_id"),
    )
    op.create_index("visitors_by_site_entered", "visitors", ["site_id", "entered_ms"])
    op.create_table(
        "name_views",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("viewed_ms", sa.BigInteger(), nullable=False),
        sa.Column(
            "what", sa.String(length=64), nullable=False, comment="Which ledger page was shown in full."
        ),
        sa.PrimaryKeyConstraint("site_id", "viewed_ms", "username"),
    )


def downgrade() -> None:
    op.drop_table("name_views")
    op.drop_index("visitors_by_site_entered", table_name="visitors")
    op.drop_table("visitors")
