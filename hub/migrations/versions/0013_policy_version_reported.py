"""the version of the site's rules a check was decided under (checks.policy_version) and
the one each device applies (device_status.policy_version)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL the partitioned checks table passes the column to every partition.
    op.add_column(
        "checks",
        sa.Column(
            "policy_version", sa.Integer(), nullable=True,
            comment="The version of the site's rules it was decided under.",
        ),
    )  # fmt: skip
    op.add_column(
        "device_status",
        sa.Column(
            "policy_version", sa.Integer(), nullable=True,
            comment="Version of the site's rules the device applies.",
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_column("device_status", "policy_version")
    op.drop_column("checks", "policy_version")
