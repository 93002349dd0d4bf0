"""A local standby store of the warm pool becoming a merchant's store
(stores/pool.py): the local half of the ``adopt`` operation.

    secrets   new WordPress salts and a new database password (once per
              operation: a re-run keeps the ones it made)
    endpoint  the new name's address (hosting.py)
    database  the store's user takes the new password (shared_steps.py)
    config    wp-config.php with the new secrets and address; the standby's
              mail and temporary files go; its php-fpm master stops (its
              opcache held the old wp-config.php; the activator starts a
              new one with the next request)
    install   the installer's ``adopt`` (shared_steps.py): address, title,
              admin, sample products choice, and nothing of the standby's
              life left in the database
    server    the server block answers to the new name only (hosting.py)
    verify    as provisioning verifies

The page cache needs no purge: its key holds the Host, and the standby's
name no longer reaches the store's server block.
"""

from __future__ import annotations

import json
import shutil

from storefleet.drivers.base import StepContext, StepOutcome
from storefleet.drivers.local.fpm import StoreFpm
from storefleet.drivers.local.site import StoreSites, write_file
from storefleet.drivers.wordpress import new_site_secrets

#: The operation that made the secrets file's current secrets.
_ROTATED_FOR = "rotated_for_operation"


class StoreAdoption:
    def __init__(self, sites: StoreSites, fpm: StoreFpm) -> None:
        self.sites = sites
        self.fpm = fpm

    def secrets_step(self, ctx: StepContext) -> StepOutcome:
        path = self.sites.store_dir(ctx.store) / "secrets.json"
        current = self.sites.load_secrets(ctx.store)
        if current.get(_ROTATED_FOR) == str(ctx.operation.id):
            return StepOutcome("kept the secrets this adoption made")
        fresh = {**new_site_secrets(), _ROTATED_FOR: str(ctx.operation.id)}
        write_file(path, json.dumps(fresh), 0o600, None)
        return StepOutcome("new database password and WordPress salts (the standby's are gone)")

    def config_step(self, ctx: StepContext) -> StepOutcome:
        store = ctx.store
        home = self.sites.store_dir(store)
        self.sites.write_wp_config(store, self.sites.site(store), self.sites.owner(store))
        owner = self.sites.owner(store)
        emptied = 0
        for name in ("mail", "tmp"):
            directory = home / name
            for entry in directory.iterdir() if directory.is_dir() else ():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                emptied += 1
            if owner is not None and directory.is_dir():
                shutil.chown(directory, *owner)
        stopped = self.fpm.stop_master(store)
        return StepOutcome(
            f"wp-config.php for {store.url} with the new secrets; {emptied} file(s) of the "
            "standby's mail and temporary files removed"
            + ("; its php-fpm stopped (the next request starts it)" if stopped else "")
        )
