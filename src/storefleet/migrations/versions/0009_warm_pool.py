"""warm pool: standby stores, owned by nobody until a creation adopts one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("standby", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.alter_column("owner_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("ix_stores_standby_phase", ["standby", "phase"], unique=False)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM stores WHERE standby = :yes").bindparams(yes=True))
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_index("ix_stores_standby_phase")
        batch_op.alter_column("owner_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("standby")
