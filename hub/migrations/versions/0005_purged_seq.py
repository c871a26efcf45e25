"""how far each device log's raw checks were purged (re-sent checks below it count once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_logs") as batch_op:
        batch_op.add_column(
            sa.Column(
                "purged_seq",
                sa.BigInteger(),
                nullable=False,
                server_default="0",
                comment="Raw checks up to this seq were purged (never above acked_seq).",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("device_logs") as batch_op:
        batch_op.drop_column("purged_seq")
