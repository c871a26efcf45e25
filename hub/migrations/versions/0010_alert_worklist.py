"""alerts as a worklist: the action taken and a note with the acknowledgement, and when an
alert past its reporting deadline was escalated

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as table:
        table.add_column(
            sa.Column(
                "action",
                sa.String(length=32),
                nullable=True,
                comment="What was done (hub.alerts.ACTIONS), with the acknowledgement.",
            )
        )
        table.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        table.add_column(
            sa.Column(
                "escalated_ms",
                sa.BigInteger(),
                nullable=True,
                comment="When it passed its reporting deadline unacknowledged.",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as table:
        table.drop_column("escalated_ms")
        table.drop_column("note")
        table.drop_column("action")
