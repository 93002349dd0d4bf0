"""Steps both drivers run the same way, given how each one reaches a store.

A driver hands :class:`SharedSteps` the stores' database server, its
installer client (whose transport reaches the store's files) and how to read
a store's database password; the steps here are then the same for both:

- ``database`` / ``drop_database``: the store's own database and user;
- ``backup_database`` / ``restore_database``: a dump and a load as the
  store's own user, with the backup's facts (``database``, ``taken_at``);
- ``adopt_address`` / ``adopt_clone``: a database from a backup made to
  answer to this store (and, for a clone, its title and admin);
- ``stage`` / ``push_database`` / ``push_address``: a clone made a staging
  copy, and a staging copy's database put into its live store
  (``drivers/staging_db.py``);
- ``upgrade_database``: the database upgrades of the releases the store's
  files are at, and the store records those releases;
- the checkout test's installer actions (``checkout_product``,
  ``confirm_order``).

A fact such as ``taken_at`` is produced here, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from storefleet.backups import archive
from storefleet.drivers import staging_db, storedb
from storefleet.drivers.base import PermanentError, StepContext, StepOutcome, StoreSnapshot
from storefleet.drivers.installer import (
    Installer,
    describe_adopt,
    describe_upgrade,
    releases_of,
)
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.wordpress import ADMIN_USER


class SharedSteps:
    def __init__(
        self,
        databases: StoreDatabases,
        installer: Installer,
        db_password: Callable[[StoreSnapshot], str],
    ) -> None:
        self.databases = databases
        self.installer = installer
        self._db_password = db_password

    # -- the store's database ----------------------------------------------

    def database(self, ctx: StepContext) -> StepOutcome:
        n = self.databases.ensure(ctx.store.uid, self._db_password(ctx.store))
        return StepOutcome(f"database {n.database} and user {n.user} (tables {n.table_prefix}*)")

    def drop_database(self, ctx: StepContext) -> StepOutcome:
        return storedb.drop_step(self.databases, ctx)

    def backup_database(self, ctx: StepContext) -> StepOutcome:
        info = self.databases.dump(
            ctx.store.uid, self._db_password(ctx.store), ctx.workdir / archive.DATABASE
        )
        return StepOutcome(
            f"{info['tables']} tables, {info['rows']} rows, {info['bytes'] / 1024:.0f} KiB "
            "(one consistent snapshot)",
            facts={"database": info, "taken_at": _utcnow_iso()},
        )

    def restore_database(self, ctx: StepContext) -> StepOutcome:
        info = self.databases.load(
            ctx.store.uid, self._db_password(ctx.store), ctx.workdir / archive.DATABASE
        )
        return StepOutcome(
            f"{info['tables']} tables loaded ({info['statements']} statements); "
            "the database's own marker kept"
        )

    # -- the installer's actions ----------------------------------------------

    def adopt_address(self, ctx: StepContext) -> StepOutcome:
        """The store's own address and platform plugin, whatever the backup had."""
        return StepOutcome(describe_adopt(self.installer.adopt(ctx)))

    def adopt_clone(self, ctx: StepContext) -> StepOutcome:
        """A clone answers to its own address and title, and its admin signs
        in with its own password (the source's is gone)."""
        result = self.installer.adopt(ctx, as_new_store=True)
        return StepOutcome(describe_adopt(result) + f"; admin '{ADMIN_USER}' has a new password")

    # -- staging copies ------------------------------------------------------

    def stage(self, ctx: StepContext) -> StepOutcome:
        """A clone (or a refreshed copy) becomes a staging copy: noindex, its
        mail kept and never sent, offline payment methods only, and its new
        posts numbered far above live's (no clash when pushed)."""
        live = _other(ctx, "live")
        self.installer.stage(ctx)
        first = staging_db.leave_id_gap(self.databases, ctx.store.uid, str(live["uid"]))
        return StepOutcome(
            "noindex (blog_public 0); mail kept in the store, never sent; offline payment "
            f"methods only; new posts from id {first}"
        )

    def push_database(self, ctx: StepContext) -> StepOutcome:
        staging = _other(ctx, "staging")
        done = staging_db.push_database(self.databases, str(staging["uid"]), ctx.store.uid)
        return StepOutcome(
            f"{len(done['pushed'])} tables pushed, {len(done['merged'])} merged "
            f"({', '.join(done['merged'])}), {len(done['kept'])} kept as live has them "
            "(orders, customers, notes, sessions, scheduled actions); one transaction",
            facts={"push": done},
        )

    def push_address(self, ctx: StepContext) -> StepOutcome:
        """The staging copy's address in what was pushed becomes live's."""
        staging = _other(ctx, "staging")
        result = self.installer.adopt(ctx, from_url=str(staging.get("url") or ""))
        return StepOutcome(describe_adopt(result))

    def upgrade_database(self, ctx: StepContext) -> StepOutcome:
        result = self.installer.upgrade(ctx)
        ctx.record(**releases_of(result))
        return StepOutcome(describe_upgrade(result))

    def checkout_product(self, ctx: StepContext) -> int:
        return self.installer.checkout_product(ctx)

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        return self.installer.confirm_order(ctx, order_id)


def _other(ctx: StepContext, role: str) -> dict[str, Any]:
    """The other store of a staging operation (its ``live`` or ``staging``
    store), as the request recorded it in the operation's params."""
    other = ctx.operation.params.get(role)
    if not isinstance(other, dict) or not other.get("uid"):
        raise PermanentError(f"the operation names no {role} store")
    return other


def _utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
