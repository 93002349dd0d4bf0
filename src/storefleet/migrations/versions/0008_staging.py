"""staging copies: the live store a copy is of, and when it expires; the
push and refresh operations (their kinds are strings: no change there)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storefleet.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staging_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", storefleet.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_stores_staging_of_id"), ["staging_of_id"])
        batch_op.create_foreign_key(
            op.f("fk_stores_staging_of_id_stores"), "stores", ["staging_of_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_stores_staging_of_id_stores"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_stores_staging_of_id"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("staging_of_id")
