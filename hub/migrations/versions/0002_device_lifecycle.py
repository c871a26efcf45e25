"""device hub URL, key rotation and revocation times

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "hub_url",
                sa.String(length=255),
                nullable=True,
                comment="URL the device was told to sync to (for new bundles).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "key_rotated_ms",
                sa.BigInteger(),
                nullable=True,
                comment="When the device's key pair was last replaced.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "revoked_ms",
                sa.BigInteger(),
                nullable=True,
                comment="When the device was revoked (status 'revoked').",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("revoked_ms")
        batch_op.drop_column("key_rotated_ms")
        batch_op.drop_column("hub_url")
