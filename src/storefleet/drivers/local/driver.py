"""The local driver: each store is its own WordPress and WooCommerce on this
machine, served by the platform's one nginx and a php-fpm of its own, with
its own database and user on a local MySQL/MariaDB server, running as a uid
of its own inside a cgroup that holds it to its plan.

The driver is its step lists, composed from the rooms that do the work:

- ``site.py`` — the store's directory, owners, secrets, ``wp-config.php``
  and its site tree built from the verified releases (also for restores,
  clones and upgrades), and the store's own files for backups;
- ``hosting.py`` — how the store is served and kept up: its address, its
  cgroup (``cgroups.py``), its php-fpm (``fpm.py``), its server block in the
  one nginx (``web.py``), wp-cron when due (``cron.py``), health;
- ``logs.py`` — its logs on disk: read for the API, rotated by the sweep;
- ``adoption.py`` — a standby of the warm pool becoming a merchant's store;
- ``php.py`` — how the store's programs start (in its cgroups, as its uid:
  ``launch.py``) and the installer's transport;
- what both drivers do alike (the store's database, dumps and loads, the
  installer's adopt/upgrade/checkout actions) is ``drivers/shared_steps.py``;
  the serving templates both drivers render are ``drivers/serving/``.
"""

from __future__ import annotations

import datetime as dt
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
from storefleet.drivers.local.adoption import StoreAdoption
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.drivers.local.cron import StoreCron
from storefleet.drivers.local.domains import LocalDomains
from storefleet.drivers.local.fpm import StoreFpm
from storefleet.drivers.local.hosting import StoreHosting
from storefleet.drivers.local.logs import read_store_log
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.site import StoreSites
from storefleet.drivers.local.web import StoresWebServer
from storefleet.drivers.logs import LogPage, LogQuery
from storefleet.drivers.shared_steps import SharedSteps
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront

log = logging.getLogger(__name__)


class LocalDriver(StoreDriver):
    name = "local"
    can_adopt = True

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
        self.web = StoresWebServer(settings, isolated=self.isolated)
        # Cgroups need root; without it the store is neither isolated nor limited.
        self.cgroups = StoreCgroups(settings.cgroup_parent) if self.isolated else None
        self.sites = StoreSites(
            settings, databases, self.releases, accounts,
            isolated=self.isolated, web_gid=self.web.web_gid(),
        )  # fmt: skip
        self.php = StorePhp(settings, self.sites, self.cgroups)
        fpm = StoreFpm(settings, self.sites, self.php)
        cron = StoreCron(settings, self.sites, self.php, databases)
        self.domains = LocalDomains(settings, self.web)
        self.hosting = StoreHosting(
            settings, self.sites, self.web, fpm, cron, self.cgroups, self.domains
        )
        self.installer = Installer(self.php)
        self.shared = SharedSteps(databases, self.installer, self.sites.db_password)
        self.adoption = StoreAdoption(self.sites, fpm)

    # -- the step lists ----------------------------------------------------------

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        if clone:
            # The backup (unpacked by the fetch step) instead of a fresh install,
            # then the database upgrades of the releases the site was built
            # at (an imported store's: this platform's, maybe newer).
            content: tuple[Step, ...] = (
                Step("content", self.sites.clone_content_step, reads_scratch=True),
                Step("data", self.shared.restore_database, reads_scratch=True),
                Step("install", self.shared.adopt_clone, consumes_admin_password=True),
                Step("upgrade", self.shared.upgrade_database),
            )
        else:
            content = (Step("install", self._install, consumes_admin_password=True),)
        return (
            Step("secrets", self.sites.secrets_step),
            Step("endpoint", self.hosting.endpoint_step),
            Step("database", self.shared.database),
            Step("files", self.sites.files_step),
            *content,
            Step("server", self.hosting.server_step),
            Step("verify", self._verify),
        )

    def adopt_steps(self) -> Sequence[Step]:
        return (
            Step("secrets", self.adoption.secrets_step),
            Step("endpoint", self.hosting.endpoint_step),
            Step("database", self.shared.database),
            Step("config", self.adoption.config_step),
            Step("install", self.shared.adopt_standby, consumes_admin_password=True),
            Step("server", self.hosting.server_step),
            Step("verify", self._verify),
        )

    def backup_steps(self) -> Sequence[Step]:
        return (
            Step("database", self.shared.backup_database),
            Step("files", self.sites.backup_files_step),
        )

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self.hosting.stop_step),
            Step("files", self.sites.restore_files_step, reads_scratch=True),
            Step("database", self.shared.restore_database, reads_scratch=True),
            Step("address", self.shared.adopt_address),
            Step("server", self.hosting.server_step),
            Step("verify", self._verify),
        )

    def upgrade_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self.hosting.stop_step),
            Step("files", self.sites.upgrade_files_step),
            Step("upgrade", self.shared.upgrade_database),
            Step("server", self.hosting.server_step),
            Step("verify", self._verify),
        )

    def stage_step(self) -> Step:
        return Step("stage", self.shared.stage)

    def push_steps(self, *, files: bool, database: bool) -> Sequence[Step]:
        return (
            *((Step("files", self.sites.push_files_step),) if files else ()),
            *((Step("database", self.shared.push_database),) if database else ()),
            Step("address", self.shared.push_address),
            Step("server", self.hosting.server_step),
            Step("verify", self._verify),
        )

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("server", self.hosting.suspend_step),)

    def resume_steps(self) -> Sequence[Step]:
        return (Step("server", self.hosting.server_step), Step("verify", self._verify))

    def resize_steps(self) -> Sequence[Step]:
        return (
            Step("server", self.hosting.server_step),
            # A store a previous release served on a port of its own moves
            # to its name's address here (the old port redirects).
            Step("address", self._address),
            Step("verify", self._verify),
        )

    def domain_steps(self, certificates: Step) -> Sequence[Step]:
        return (
            Step("route", self._route),
            certificates,
            Step("address", self._address),
            Step("serve", self._route),
            Step("verify", self._verify),
        )

    def delete_steps(self) -> Sequence[Step]:
        return (
            Step("server", self.hosting.stop_for_deletion_step),
            Step("files", self.sites.remove_step),
            Step("database", self.shared.drop_database),
            Step("endpoint", self.hosting.release_endpoint_step),
        )

    # -- steps of its own ----------------------------------------------------------

    def _install(self, ctx: StepContext) -> StepOutcome:
        profile = StoreProfile(self.settings.store_country, self.settings.store_currency)
        result = self.installer.install(ctx, profile)
        return StepOutcome(describe_install(result, ctx.store.admin_email))

    def _route(self, ctx: StepContext) -> StepOutcome:
        """nginx serves the store's domains as they are now: over http until
        each has its certificate (ACME's challenges answered), then over TLS;
        the platform's name leads to the store's address when it is elsewhere."""
        gone = self.domains.forget_unrouted(ctx.store)
        site = self.hosting.site(ctx.store)
        self.web.write_site(site)
        running = self.web.ensure_running()
        parts = [f"http: {', '.join(site.http_domains)}"] if site.http_domains else []
        if site.tls_domains:
            parts.append(f"https: {', '.join(d.name for d in site.tls_domains)}")
        if site.redirect_to:
            parts.append(f"{self.web.url(ctx.store)} redirects to {site.redirect_to}")
        if gone:
            parts.append(f"certificates removed: {', '.join(gone)}")
        return StepOutcome("; ".join(parts or ["no custom domain"]) + f" (nginx {running})")

    def publish_challenge(
        self, ctx: StepContext, domain: str, token: str, key_authorization: str
    ) -> None:
        self.domains.publish_challenge(ctx, domain, token, key_authorization)

    def withdraw_challenge(self, ctx: StepContext, domain: str, token: str) -> None:
        self.domains.withdraw_challenge(ctx, token)

    def install_certificate(
        self, ctx: StepContext, domain: str, fullchain_pem: bytes, key_pem: bytes
    ) -> None:
        self.domains.install_certificate(ctx.store, domain, fullchain_pem, key_pem)

    def certificate_expiry(self, store: StoreSnapshot, domain: str) -> dt.datetime | None:
        return self.domains.certificate_expiry(store, domain)

    def _address(self, ctx: StepContext) -> StepOutcome:
        """The store answers at its address: its active primary domain, or
        its name's (nothing to do when it does)."""
        url = self.domains.wanted_url(ctx.store)
        if ctx.store.url == url:
            return StepOutcome(f"kept {url}", skipped=True)
        before = ctx.store.url
        ctx.record(url=url, admin_url=url + "wp-admin/")
        # wp-config.php names the address too (WP_HOME, WP_SITEURL).
        self.sites.write_wp_config(
            ctx.store, self.sites.site(ctx.store), self.sites.owner(ctx.store)
        )
        done = self.shared.adopt_address(ctx)
        return StepOutcome(f"{before} → {url}: {done.message}; the old address redirects")

    def _verify(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        base, headers, sni = self.web.reach(ctx.store.url)
        bundle = self.settings.acme_ca_bundle
        return StepOutcome(
            check_storefront(
                base, ctx.store.name, timeout=ctx.remaining(), headers=headers, sni=sni,
                extra_cas=str(bundle) if bundle else None,
            )
        )  # fmt: skip

    # -- the checkout test, health, supervision ------------------------------------

    def checkout_product(self, ctx: StepContext) -> int:
        return self.shared.checkout_product(ctx)

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        return self.shared.confirm_order(ctx, order_id)

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        return self.hosting.probe(store, timeout)

    def read_logs(self, store: StoreSnapshot, query: LogQuery) -> LogPage:
        return read_store_log(self.settings, store.uid, query)

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        return self.hosting.supervise(ready)

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        return self.hosting.supervise_suspended(suspended)

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        self.hosting.stop_all(stores)

    def check(self) -> None:
        for what, binary, package in (
            ("PHP", self.settings.php_binary, "php-cli"),
            ("php-fpm", self.settings.php_fpm_binary, "php8.2-fpm"),
        ):
            if shutil.which(binary) is None:
                raise PermanentError(
                    f"{what} ({binary}) was not found: install {package} "
                    "(scripts/services.sh php does)"
                )
        self.sites.prepare()
        self.web.prepare()
        if self.cgroups is not None:
            self.cgroups.check()
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
