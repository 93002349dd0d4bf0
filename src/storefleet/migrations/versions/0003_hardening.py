"""hardening: the reconciler's heartbeat, and each audit event's result

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:26:18.361791
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storefleet.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("beat_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("result", sa.String(length=16), server_default="success", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
        batch_op.drop_column("result")

    op.drop_table("heartbeats")
