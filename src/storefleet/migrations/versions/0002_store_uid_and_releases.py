"""store uid, releases and sample products

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:00:00

Stores get a random ``uid`` that names their database, user, directory and
namespace label (row ids repeat after a platform-database reset; uids do not),
the WordPress and WooCommerce versions they run, and whether they were made
with sample products. Existing rows get fresh uids.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storefleet.names import new_store_uid

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("sample_products", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("wordpress_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("woocommerce_version", sa.String(length=16), nullable=True))
    conn = op.get_bind()
    stores = sa.table("stores", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    for (store_id,) in conn.execute(sa.select(stores.c.id)).all():
        conn.execute(stores.update().where(stores.c.id == store_id).values(uid=new_store_uid()))
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_stores_uid"), ["uid"])


def downgrade() -> None:
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_stores_uid"), type_="unique")
        batch_op.drop_column("woocommerce_version")
        batch_op.drop_column("wordpress_version")
        batch_op.drop_column("sample_products")
        batch_op.drop_column("uid")
