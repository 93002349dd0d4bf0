"""How a local store is served: its cgroup (the plan's limits), its php-fpm
master and pool, and its server block in the platform's one nginx — brought
up together by the ``server`` step, taken down together, kept up by the
reconciler's sweep, and checked without waking PHP.

- ``server``: cgroup limits, the pool, the store handed to the activator
  (which starts its php-fpm with the first request and reloads it gracefully
  when its pool changed), the server block routing the store's Host to it,
  nginx running. Every part converges when re-run; a resize is the same step
  with another plan.
- ``stop`` (before a restore or an upgrade swaps the site): the store's
  address answers "store unavailable" (503) while nothing of it runs.
- suspend: the same, until resume runs ``server`` again.
- health (:meth:`probe`): nginx answers the store's Host and the activator
  holds its socket, every sweep; the storefront itself (PHP, the database)
  only once every ``STOREFLEET_HEALTH_DEEP_SECONDS`` at a point of its own,
  so that a thousand idle stores are not woken every minute.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence

import httpx

from storefleet.config import Settings
from storefleet.drivers.base import (
    PermanentError,
    StepContext,
    StepOutcome,
    StoreSnapshot,
    SupervisionReport,
    TransientError,
)
from storefleet.drivers.local import logs
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.drivers.local.cron import StoreCron
from storefleet.drivers.local.domains import LocalDomains
from storefleet.drivers.local.fpm import StoreFpm
from storefleet.drivers.local.site import StoreSites
from storefleet.drivers.local.web import StoreSite, StoresWebServer
from storefleet.drivers.verify import check_storefront, tls_context
from storefleet.plans import Plan, find

log = logging.getLogger(__name__)

#: nginx answers this itself (no PHP): the store's server block is in place.
HEALTH_PATH = "/storefleet-health"


class StoreHosting:
    def __init__(
        self,
        settings: Settings,
        sites: StoreSites,
        web: StoresWebServer,
        fpm: StoreFpm,
        cron: StoreCron,
        cgroups: StoreCgroups | None,
        domains: LocalDomains,
    ) -> None:
        self.settings = settings
        self.domains = domains
        self.sites = sites
        self.web = web
        self.fpm = fpm
        self.cron = cron
        self.cgroups = cgroups
        self._deep_checked: dict[str, float] = {}

    def plan(self, store: StoreSnapshot, wanted: str | None = None) -> Plan:
        try:
            return find(self.settings.plan_list, wanted or store.plan)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc

    def site(self, store: StoreSnapshot, *, suspended: bool = False) -> StoreSite:
        """The store's server blocks: its name, and its custom domains."""
        plain, tls = self.domains.served(store) if not suspended else ((), ())
        return StoreSite(
            store=store,
            docroot=self.sites.site(store),
            fastcgi_pass=f"unix:{self.fpm.socket(store)}",
            access_log=self.web.access_log(store),
            upload_mib=self.plan(store).upload_mib,
            suspended=suspended,
            http_domains=plain,
            tls_domains=tls,
            redirect_to=None if suspended else self.domains.redirect_to(store),
        )

    # -- the store's address ---------------------------------------------------------

    def endpoint_step(self, ctx: StepContext) -> StepOutcome:
        url = self.web.url(ctx.store)
        if ctx.store.url == url:
            return StepOutcome(f"kept {url}")
        # Raises TransientError when another store holds the address.
        ctx.record(url=url, admin_url=url + "wp-admin/")
        return StepOutcome(url)

    @staticmethod
    def release_endpoint_step(ctx: StepContext) -> StepOutcome:
        ctx.record(port=None, url=None, admin_url=None)
        return StepOutcome("released the address")

    # -- steps -----------------------------------------------------------------------

    def server_step(self, ctx: StepContext) -> StepOutcome:
        store = ctx.store
        # A resize names the plan it applies; the store records it once in effect.
        plan = self.plan(store, str(ctx.operation.params.get("plan") or store.plan))
        parts = []
        if self.cgroups is not None and self.sites.owner(store) is not None:
            parts.append(self.cgroups.ensure(store.uid, plan))
        else:
            ctx.event(
                "The store's PHP runs as the platform's own user and without limits: it is "
                "not isolated from other stores (run the platform as root for a uid and a "
                "cgroup per store)",
                level="warning",
            )
        self.fpm.prepare(store)
        self.fpm.write_config(store, plan)
        parts.append(self.fpm.serve(store, plan, deadline=ctx.deadline))
        self.web.write_site(self.site(store))
        parts.append(f"nginx {self.web.ensure_running()} — {self.web.url(store)}")
        if plan.name != store.plan:
            ctx.record(plan=plan.name)
        return StepOutcome(
            f"plan {plan.name}: " + "; ".join(parts) + f"; {plan.php_workers} PHP workers "
            f"at most, {plan.php_memory_mib} MiB a request"
        )

    def stop_step(self, ctx: StepContext) -> StepOutcome:
        """Nothing of the store runs; its address says "store unavailable"."""
        self.web.write_site(self.site(ctx.store, suspended=True))
        self.fpm.unserve(ctx.store)
        self.cron.forget(ctx.store)
        return StepOutcome(f"nothing of it runs; {ctx.store.url} answers 503 “store unavailable”")

    def suspend_step(self, ctx: StepContext) -> StepOutcome:
        return self.stop_step(ctx)

    def stop_for_deletion_step(self, ctx: StepContext) -> StepOutcome:
        removed = self.web.remove_site(ctx.store)
        self.web.forget_store_files(ctx.store)  # its certificates, its challenges
        stopped = self.fpm.unserve(ctx.store)
        self.cron.forget(ctx.store)
        killed = 0
        if self.cgroups is not None:
            killed = self.cgroups.remove(ctx.store.uid)
        return StepOutcome(
            ("server block removed; " if removed else "no server block; ")
            + ("php-fpm stopped" if stopped else "it was not served")
            + (f"; {killed} process(es) of its cgroup ended" if killed else "")
        )

    # -- health ------------------------------------------------------------------------

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        if store.url is None:
            raise PermanentError("the store has no URL")
        base, headers, sni = self.web.reach(store.url)
        try:
            with httpx.Client(verify=tls_context(self._extra_cas)) as http:
                answer = http.get(
                    base.rstrip("/") + HEALTH_PATH, headers=headers, timeout=min(timeout, 10.0),
                    extensions={"sni_hostname": sni} if sni else None,
                )  # fmt: skip
        except httpx.HTTPError as exc:
            raise TransientError(f"nginx did not answer for {store.url}: {exc}") from exc
        if answer.status_code != 204:
            raise TransientError(f"nginx answered {answer.status_code} for {store.url}")
        if not self.fpm.socket(store).exists() or self.fpm.activator_pid() is None:
            raise TransientError("the activator does not serve the store's PHP")
        now = time.monotonic()
        last = self._deep_checked.get(store.uid)
        if last is None:  # first seen: spread the deep checks over their interval
            share = int.from_bytes(hashlib.sha256(store.uid.encode()).digest()[:4]) / 2**32
            last = self._deep_checked[store.uid] = now - share * self.settings.health_deep_seconds
        if now - last < self.settings.health_deep_seconds:
            return f"nginx answers for {store.url}; its PHP starts on demand"
        said = check_storefront(
            base, store.name, timeout=timeout, headers=headers, sni=sni,
            extra_cas=self._extra_cas,
        )  # fmt: skip
        self._deep_checked[store.uid] = now
        return said

    @property
    def _extra_cas(self) -> str | None:
        bundle = self.settings.acme_ca_bundle
        return str(bundle) if bundle else None

    # -- supervision ----------------------------------------------------------------------

    def rotate_logs(self, stores: Sequence[StoreSnapshot]) -> None:
        """Rotate the stores' logs (and nginx's own error log) that passed
        their size, and have their writers reopen them (local/logs.py)."""
        limit = self.settings.store_log_max_mib << 20
        reopen_nginx = logs.rotate(self.web.log_dir / "nginx-error.log", limit)
        for store in stores:
            if not self.sites.store_dir(store).is_dir():
                continue
            try:
                access, fpm = logs.rotate_store(self.settings, store.uid)
            except OSError as exc:
                log.warning("store %s: its logs could not be rotated: %s", store.uid, exc)
                continue
            reopen_nginx |= access
            if fpm:
                self.fpm.reopen_log(store)
        if reopen_nginx:
            self.web.reopen_logs()

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        if not ready:
            return report
        self.rotate_logs(ready)
        try:
            started = {"nginx": self.web.ensure_running(), "activator": self.fpm.ensure_activator()}
        except (TransientError, PermanentError) as exc:
            for store in ready:
                report.failed[store.id] = str(exc)
            return report
        restarted = "; ".join(f"started {k}: {v}" for k, v in started.items() if v != "running")
        for store in ready:
            if not self.sites.site(store).is_dir():
                continue
            if not self.fpm.served(store) or not self.web.has_site(store):
                report.reconfigure[store.id] = (
                    "not served by nginx + php-fpm yet (a store of an earlier release, or "
                    "one whose serving files were lost): setting it up again"
                )
                continue
            if restarted:
                report.restarted[store.id] = restarted.capitalize()
            if not store.standby:
                self.cron.tick(store)
        return report

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        self.rotate_logs(suspended)
        for store in suspended:
            if not self.sites.store_dir(store).is_dir():
                continue
            if self.fpm.unserve(store):
                report.restarted[store.id] = "Stopped its PHP: the store is suspended"
            self.web.write_site(self.site(store, suspended=True))
        if suspended:
            try:
                self.web.ensure_running()
            except (TransientError, PermanentError) as exc:
                for store in suspended:
                    report.failed[store.id] = f"nginx: {exc}"
        return report

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        self.fpm.stop_activator()  # it stops the php-fpm masters it started
        for store in stores:
            self.fpm.stop_master(store, timeout=5)
        self.web.stop()
