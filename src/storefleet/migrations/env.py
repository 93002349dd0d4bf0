"""Alembic environment: migrations run with the platform's own engine."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storefleet import heartbeats as _heartbeats  # noqa: F401  (register tables)
from storefleet.audit import models as _audit  # noqa: F401
from storefleet.auth import models as _auth  # noqa: F401
from storefleet.backups import models as _backups  # noqa: F401
from storefleet.db import Base, make_engine
from storefleet.domains import models as _domains  # noqa: F401
from storefleet.fleet import models as _fleet  # noqa: F401
from storefleet.releases import models as _releases  # noqa: F401
from storefleet.stores import models as _stores  # noqa: F401
from storefleet.webhooks import models as _webhooks  # noqa: F401

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `storefleet migrate`")
run_migrations_online()
