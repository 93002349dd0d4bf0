"""store operations, backups, fleet upgrades, health

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:00:00

Every operation on a store (provision, delete, backup, restore, upgrade,
suspend, resume) becomes a ``store_operations`` row whose steps point at it;
the steps recorded so far get one operation per (store, kind). Backups, the
platform's target releases and fleet upgrades get tables of their own; stores
get a backup schedule and their health-check counters.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import storefleet.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_releases",
        sa.Column("product", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("updated_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint("product", name=op.f("pk_platform_releases")),
    )
    op.create_table(
        "fleet_upgrades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wordpress", sa.String(length=16), nullable=False),
        sa.Column("woocommerce", sa.String(length=16), nullable=False),
        sa.Column("previous_wordpress", sa.String(length=16), nullable=False),
        sa.Column("previous_woocommerce", sa.String(length=16), nullable=False),
        sa.Column("waves", sa.JSON(), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("halted_reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_upgrades")),
    )
    with op.batch_alter_table("fleet_upgrades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fleet_upgrades_status"), ["status"], unique=False)

    op.create_table(
        "store_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("fleet_upgrade_id", sa.Integer(), nullable=True),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("created_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("deadline_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("failed_step", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["fleet_upgrade_id"],
            ["fleet_upgrades.id"],
            name=op.f("fk_store_operations_fleet_upgrade_id_fleet_upgrades"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_store_operations_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_operations")),
    )
    with op.batch_alter_table("store_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_store_operations_fleet_upgrade_id"), ["fleet_upgrade_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_store_operations_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_store_operations_store_id"), ["store_id"], unique=False
        )
        batch_op.create_index(
            "ix_store_operations_store_status", ["store_id", "status"], unique=False
        )

    op.create_table(
        "backups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=True),
        sa.Column("location", sa.String(length=512), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("wordpress_version", sa.String(length=16), nullable=True),
        sa.Column("woocommerce_version", sa.String(length=16), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", storefleet.db.UTCDateTime(), nullable=False),
        sa.Column("completed_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("expires_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.Column("expired_at", storefleet.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_backups_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups")),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index("ix_backups_store_status", ["store_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_store_id"), ["store_id"], unique=False)

    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backup_schedule_hours", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("health_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("health_checked_at", storefleet.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("operation_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("store_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("failure_kind", sa.String(length=16), nullable=True))

    _operations_for_recorded_steps()

    with op.batch_alter_table("store_steps", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_store_steps_store_id"), type_="unique")
        batch_op.alter_column("operation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_store_steps_operation_id"), ["operation_id", "name"]
        )
        batch_op.create_index(
            batch_op.f("ix_store_steps_operation_id"), ["operation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_store_steps_operation_id_store_operations"),
            "store_operations",
            ["operation_id"],
            ["id"],
            ondelete="CASCADE",
        )


def _operations_for_recorded_steps() -> None:
    """One operation per (store, kind) of the steps recorded before operations
    existed, with the status the store's phase implies."""
    conn = op.get_bind()
    stores = sa.table(
        "stores",
        sa.column("id", sa.Integer),
        sa.column("phase", sa.String),
        sa.column("desired", sa.String),
        sa.column("created_at", storefleet.db.UTCDateTime()),
        sa.column("operation", sa.String),
        sa.column("operation_id", sa.Integer),
    )
    steps = sa.table(
        "store_steps",
        sa.column("store_id", sa.Integer),
        sa.column("operation", sa.String),
        sa.column("operation_id", sa.Integer),
    )
    operations = sa.table(
        "store_operations",
        sa.column("id", sa.Integer),
        sa.column("store_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("params", sa.JSON),
        sa.column("result", sa.JSON),
        sa.column("requested_by", sa.String),
        sa.column("created_at", storefleet.db.UTCDateTime()),
    )
    pairs = conn.execute(sa.select(steps.c.store_id, steps.c.operation).distinct()).all()
    for store_id, kind in pairs:
        store = conn.execute(sa.select(stores).where(stores.c.id == store_id)).one()
        status = _status(kind, store.phase, store.desired)
        conn.execute(
            operations.insert().values(
                store_id=store_id,
                kind=kind,
                status=status,
                params={},
                result={},
                requested_by="migration",
                created_at=store.created_at or dt.datetime.now(dt.UTC),
            )
        )
        op_id = conn.execute(
            sa.select(sa.func.max(operations.c.id)).where(
                operations.c.store_id == store_id, operations.c.kind == kind
            )
        ).scalar_one()
        conn.execute(
            steps.update()
            .where(steps.c.store_id == store_id, steps.c.operation == kind)
            .values(operation_id=op_id)
        )
        if status == "running":
            conn.execute(stores.update().where(stores.c.id == store_id).values(operation_id=op_id))


def _status(kind: str, phase: str, desired: str) -> str:
    if kind == "provision":
        if phase in ("pending", "provisioning"):
            return "running"
        if phase == "failed" and desired == "present":
            return "failed"
        return "succeeded"
    if phase == "deleted":
        return "succeeded"
    if phase == "failed":
        return "failed"
    return "running"


def downgrade() -> None:
    with op.batch_alter_table("store_steps", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_store_steps_operation_id_store_operations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_store_steps_operation_id"))
        batch_op.drop_constraint(batch_op.f("uq_store_steps_operation_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_store_steps_store_id"), ["store_id", "operation", "name"]
        )
        batch_op.drop_column("failure_kind")
        batch_op.drop_column("duration_seconds")
        batch_op.drop_column("operation_id")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("operation_id")
        batch_op.drop_column("health_checked_at")
        batch_op.drop_column("health_failures")
        batch_op.drop_column("backup_schedule_hours")
    # Dropping a table drops its indexes (MySQL refuses to drop an index a
    # foreign key needs while the key is there).
    op.drop_table("backups")
    op.drop_table("store_operations")
    op.drop_table("fleet_upgrades")
    op.drop_table("platform_releases")
