"""daily counts named as the day report's fields (admit → admitted, fever → fevers, …)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "admit": "admitted",
    "deny": "denied",
    "fever": "fevers",
    "visitor": "visitors",
    "override": "overrides",
}


def _rename(pairs: dict[str, str]) -> None:
    for old, new in pairs.items():
        op.execute(
            sa.text("UPDATE daily_counts SET metric = :new WHERE metric = :old").bindparams(old=old, new=new)
        )


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
