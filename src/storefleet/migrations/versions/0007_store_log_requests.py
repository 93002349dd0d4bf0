"""store log requests: a Kubernetes store's log lines asked of a worker

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 22:52:32

The API has no cluster rights: it writes the question here, a worker reads
the store's pod logs and writes the (redacted) answer, and the API deletes
the row once read (storefleet/stores/logs.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storefleet.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_log_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_store_log_requests_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_log_requests")),
    )
    with op.batch_alter_table("store_log_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_store_log_requests_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_store_log_requests_store_id"), ["store_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("store_log_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_store_log_requests_store_id"))
        batch_op.drop_index(batch_op.f("ix_store_log_requests_created_at"))

    op.drop_table("store_log_requests")
