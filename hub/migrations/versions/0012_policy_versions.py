"""policy_versions: every version of each site's gate rules (who, when, what, why, and
from when it applies); sites.policy becomes version 1 and is dropped

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "policy", sa.Text(), nullable=False, comment="The whole policy (JSON), not just the change."
        ),
        sa.Column("effective_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "version"),
    )
    op.execute(
        "INSERT INTO policy_versions "
        "(site_id, version, policy, effective_from_ms, author, reason, created_ms) "
        "SELECT id, 1, policy, created_at_ms, '-', 'site created', created_at_ms FROM sites"
    )
    # ALTER TABLE … DROP COLUMN in place (SQLite ≥ 3.35): rebuilding sites would trip the
    # foreign keys that point at it.
    op.drop_column("sites", "policy")


def downgrade() -> None:
    op.add_column("sites", sa.Column("policy", sa.Text(), nullable=False, server_default="{}"))
    op.execute(
        "UPDATE sites SET policy = (SELECT p.policy FROM policy_versions p WHERE p.site_id = sites.id "
        "ORDER BY p.version DESC LIMIT 1)"
    )
    op.drop_table("policy_versions")
