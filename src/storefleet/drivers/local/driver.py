"""The local driver: each store is a PHP server process on this machine,
serving its own WordPress and WooCommerce, with its own database and user on
a local MySQL/MariaDB server, running as a uid of its own.

The driver is its step lists, composed from the rooms that do the work:

- ``site.py`` — the store's directory, owners, secrets, ``wp-config.php``
  and its site tree built from the verified releases (also for restores,
  clones and upgrades), and the store's own files for backups;
- ``processes.py`` — the store's port, its PHP server, the "store
  unavailable" page of a suspended store, wp-cron, and their supervision;
- ``php.py`` — the store's PHP command line and the installer's transport
  (PHP as the store's uid);
- what both drivers do alike (the store's database, dumps and loads, the
  installer's adopt/upgrade/checkout actions) is ``drivers/shared_steps.py``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from typing import Any

from storefleet import releases
from storefleet.config import Settings
from storefleet.drivers import storedb
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    StoreSnapshot,
    SupervisionReport,
)
from storefleet.drivers.installer import Installer, StoreProfile, describe_install
from storefleet.drivers.local.accounts import StoreAccounts
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.processes import StoreServers
from storefleet.drivers.local.site import StoreSites
from storefleet.drivers.shared_steps import SharedSteps
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront

log = logging.getLogger(__name__)


class LocalDriver(StoreDriver):
    name = "local"

    def __init__(self, settings: Settings, databases: StoreDatabases | None = None) -> None:
        self.settings = settings
        databases = databases or storedb.from_settings(settings, "local")
        self.releases = releases.ReleaseCache(
            settings.releases_path, settings.artifacts, max_bytes=settings.download_max_bytes
        )
        accounts = StoreAccounts(
            settings.sites_path / "uids", settings.store_uid_min, settings.store_uid_max
        )
        self.isolated = os.geteuid() == 0
        self.sites = StoreSites(
            settings, databases, self.releases, accounts, isolated=self.isolated
        )
        self.php = StorePhp(settings, self.sites)
        self.servers = StoreServers(settings, self.sites, self.php)
        self.installer = Installer(self.php)
        self.shared = SharedSteps(databases, self.installer, self.sites.db_password)

    # -- the step lists ----------------------------------------------------------

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        if clone:
            # The backup (unpacked by the fetch step) instead of a fresh install.
            content: tuple[Step, ...] = (
                Step("content", self.sites.clone_content_step, reads_scratch=True),
                Step("data", self.shared.restore_database, reads_scratch=True),
                Step("install", self.shared.adopt_clone, consumes_admin_password=True),
            )
        else:
            content = (Step("install", self._install, consumes_admin_password=True),)
        return (
            Step("secrets", self.sites.secrets_step),
            Step("endpoint", self.servers.endpoint_step),
            Step("database", self.shared.database),
            Step("files", self.sites.files_step),
            *content,
            Step("server", self.servers.server_step),
            Step("verify", self._verify),
        )

    def backup_steps(self) -> Sequence[Step]:
        return (
            Step("database", self.shared.backup_database),
            Step("files", self.sites.backup_files_step),
        )

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self.servers.stop_step),
            Step("files", self.sites.restore_files_step, reads_scratch=True),
            Step("database", self.shared.restore_database, reads_scratch=True),
            Step("address", self.shared.adopt_address),
            Step("server", self.servers.server_step),
            Step("verify", self._verify),
        )

    def upgrade_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self.servers.stop_step),
            Step("files", self.sites.upgrade_files_step),
            Step("upgrade", self.shared.upgrade_database),
            Step("server", self.servers.server_step),
            Step("verify", self._verify),
        )

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("server", self.servers.suspend_step),)

    def resume_steps(self) -> Sequence[Step]:
        return (Step("server", self.servers.resume_step), Step("verify", self._verify))

    def delete_steps(self) -> Sequence[Step]:
        return (
            Step("server", self.servers.stop_for_deletion_step),
            Step("files", self.sites.remove_step),
            Step("database", self.shared.drop_database),
            Step("endpoint", self.servers.release_endpoint_step),
        )

    # -- steps of its own ----------------------------------------------------------

    def _install(self, ctx: StepContext) -> StepOutcome:
        profile = StoreProfile(self.settings.store_country, self.settings.store_currency)
        result = self.installer.install(ctx, profile)
        return StepOutcome(describe_install(result, ctx.store.admin_email))

    def _verify(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        return StepOutcome(check_storefront(ctx.store.url, ctx.store.name, timeout=ctx.remaining()))

    # -- the checkout test, health, supervision ------------------------------------

    def checkout_product(self, ctx: StepContext) -> int:
        return self.shared.checkout_product(ctx)

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        return self.shared.confirm_order(ctx, order_id)

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        if store.url is None:
            raise PermanentError("the store has no URL")
        return check_storefront(store.url, store.name, timeout=timeout)

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        return self.servers.supervise(ready)

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        return self.servers.supervise_suspended(suspended)

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        self.servers.stop_all(stores)

    def check(self) -> None:
        if shutil.which(self.settings.php_binary) is None:
            raise PermanentError(
                f"PHP ({self.settings.php_binary}) was not found: install php-cli and php-mysql"
            )
        self.sites.prepare()
        if not self.isolated:
            log.warning(
                "the platform does not run as root: local stores run as uid %d, "
                "not each under a uid of its own (not isolated from each other)",
                os.geteuid(),
            )
        # Fetch the pinned releases now, so that the first store does not
        # wait for it; a failure here is reported by the store's files step.
        for product in releases.PRODUCTS:
            try:
                self.releases.fetch(releases.pinned(product))
            except releases.ReleaseError as exc:
                log.warning("%s", exc)
        self.shared.databases.ping()
