"""The Kubernetes driver: each store is a namespace ``store-<name>`` holding a
Helm release of ``charts/woocommerce-store``, with a database and user of its
own on the shared stores MySQL server.

Provisioning: database → namespace → release → endpoint → install → rollout
→ verify; a clone of a backup puts the backup in after the rollout (content
→ data → adopt under its own address, title and admin password → upgrade
to the image's releases → restart → restarted) and then verifies.
Deletion: release → namespace → database → credentials → endpoint.

The driver is its step lists, composed from the rooms that do the work:
``cluster.py`` (the API clients, errors, waiting by watch), ``names.py``,
``namespace.py`` (the namespace, the worker's rights in it, the store's
Secrets), ``release.py`` (helm, the address, the install Job, the rollout),
``pods.py`` (exec, the storefront's address, why a pod is not serving),
``day2.py`` (wp-content in and out, restart, scale, health) and ``logs.py``
(the pod's logs, for a worker the API asks). What both
drivers do alike is ``drivers/shared_steps.py``. Every step converges when
re-run.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes import client

from storefleet.config import Settings
from storefleet.drivers import storedb
from storefleet.drivers.base import (
    NotSupported,
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    StoreSnapshot,
)
from storefleet.drivers.installer import Installer
from storefleet.drivers.kubernetes.cluster import Cluster
from storefleet.drivers.kubernetes.day2 import StoreDay2
from storefleet.drivers.kubernetes.domains import KubeDomains
from storefleet.drivers.kubernetes.helm import Helm
from storefleet.drivers.kubernetes.logs import StoreLogs
from storefleet.drivers.kubernetes.names import StoreNames
from storefleet.drivers.kubernetes.namespace import StoreNamespaces
from storefleet.drivers.kubernetes.pods import StorePods
from storefleet.drivers.kubernetes.release import StoreReleases
from storefleet.drivers.logs import LogPage, LogQuery
from storefleet.drivers.shared_steps import SharedSteps
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront


class KubernetesDriver(StoreDriver):
    name = "kubernetes"
    logs_through_worker = True

    def __init__(
        self,
        settings: Settings,
        databases: StoreDatabases | None = None,
        api_client: client.ApiClient | None = None,
    ) -> None:
        self.settings = settings
        databases = databases or storedb.from_settings(settings, "kubernetes")
        self.cluster = Cluster(settings, api_client)
        self.names = StoreNames(settings)
        self.helm = Helm(self.cluster.helm_binary(), env=self.cluster.helm_env())
        self.namespaces = StoreNamespaces(settings, self.cluster, self.names)
        self.pods = StorePods(settings, self.cluster, self.names)
        self.domains = KubeDomains(settings, self.cluster, self.names, self.pods)
        self.releases = StoreReleases(
            settings, self.cluster, self.names, self.namespaces, databases, self.helm,
            self.domains,
        )  # fmt: skip
        self.day2 = StoreDay2(self.cluster, self.names, self.pods)
        self.logs = StoreLogs(settings, self.cluster, self.names)
        self.shared = SharedSteps(databases, Installer(self.pods), self.namespaces.db_password)

    # -- the step lists ----------------------------------------------------------

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        r, shared = self.releases, self.shared
        if clone:
            # A new store as usual, then the backup (unpacked by the fetch
            # step) in place of its fresh install, adopted under this store's
            # address, title and admin, and the pod restarted on it.
            return (
                Step("database", shared.database),
                Step("namespace", self.namespaces.namespace_step),
                Step("release", r.release_step),
                Step("endpoint", r.endpoint_step),
                Step("install", r.install_step),
                Step("rollout", r.rollout_step),
                Step("content", self.day2.restore_files_step, reads_scratch=True),
                Step("data", shared.restore_database, reads_scratch=True),
                Step("adopt", shared.adopt_clone, consumes_admin_password=True),
                Step("upgrade", shared.upgrade_database),
                Step("restart", self.day2.restart_step),
                Step("restarted", r.rollout_step),
                Step("verify", self._verify),
            )
        return (
            Step("database", shared.database),
            Step("namespace", self.namespaces.namespace_step, consumes_admin_password=True),
            Step("release", r.release_step),
            Step("endpoint", r.endpoint_step),
            Step("install", r.install_step),
            Step("rollout", r.rollout_step),
            Step("verify", self._verify),
        )

    def delete_steps(self) -> Sequence[Step]:
        return (
            Step("release", self.releases.uninstall_step),
            Step("namespace", self.namespaces.delete_namespace_step),
            Step("database", self.shared.drop_database),
            Step("credentials", self.namespaces.delete_credentials_step),
            Step("endpoint", self.releases.release_endpoint_step),
        )

    def backup_steps(self) -> Sequence[Step]:
        return (
            Step("database", self.shared.backup_database),
            Step("files", self.day2.backup_files_step),
        )

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("database", self.shared.restore_database, reads_scratch=True),
            Step("files", self.day2.restore_files_step, reads_scratch=True),
            Step("address", self.shared.adopt_address),
            # A store's releases are its image's: a database from a backup
            # taken on older ones gets their database upgrades.
            Step("upgrade", self.shared.upgrade_database),
            Step("restart", self.day2.restart_step),
            Step("rollout", self.releases.rollout_step),
        )

    def upgrade_steps(self) -> Sequence[Step]:
        def run(ctx: StepContext) -> StepOutcome:
            raise NotSupported(
                "the kubernetes driver cannot upgrade stores yet: it needs a store image per "
                "release pair (the install Job runs the upgrade once the image changes)"
            )

        return (Step("files", run),)

    def resize_steps(self) -> Sequence[Step]:
        # The chart's plan values: the pod's resources, the namespace's quota
        # and limits, PHP's workers and memory; a rollout replaces the pod.
        return (
            Step("release", self.releases.release_step),
            Step("rollout", self.releases.rollout_step),
            Step("verify", self._verify),
        )

    def stage_step(self) -> Step:
        return Step("stage", self.shared.stage)

    def push_steps(self, *, files: bool, database: bool) -> Sequence[Step]:
        return (
            *((Step("files", self.day2.push_files_step),) if files else ()),
            *((Step("database", self.shared.push_database),) if database else ()),
            Step("address", self.shared.push_address),
            Step("restart", self.day2.restart_step),
            Step("rollout", self.releases.rollout_step),
            Step("verify", self._verify),
        )

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("scale", self.day2.scale_step(0)), Step("stopped", self.day2.stopped_step))

    def resume_steps(self) -> Sequence[Step]:
        # Ready again only once visitors reach it: the ingress controller
        # routes to the new endpoint a moment after the rollout.
        return (
            Step("scale", self.day2.scale_step(1)),
            Step("rollout", self.releases.rollout_step),
            Step("verify", self._verify),
        )

    # -- custom domains (drivers/kubernetes/domains.py) ---------------------------------

    def domain_steps(self, certificates: Step) -> Sequence[Step]:
        return (
            Step("route", self._route),
            certificates,
            Step("address", self._address),
            Step("serve", self._serve),
            Step("verify", self._verify),
        )

    def _route(self, ctx: StepContext) -> StepOutcome:
        """The release's Ingresses route the store's domains as they are now:
        plain http until each has its certificate, then TLS with it too."""
        if self.names.host(ctx.store) is None:
            raise NotSupported(
                "custom domains need stores behind an ingress (STOREFLEET_K8S_STORE_DOMAIN)"
            )
        gone = self.domains.forget_unrouted(ctx.store)
        self.releases.install_release(ctx)
        hosts = self.domains.values(ctx.store)
        parts = [f"{h['host']} ({'https' if h['tlsSecret'] else 'http'})" for h in hosts]
        if gone:
            parts.append(f"certificates removed: {', '.join(gone)}")
        return StepOutcome("routed: " + (", ".join(parts) or "no custom domain"))

    def _address(self, ctx: StepContext) -> StepOutcome:
        """WordPress's address moves to the store's active primary domain (or
        back to its name's); the release carries it from the next step on."""
        own = self.names.ingress_url(ctx.store) or ctx.store.url or ""
        url = self.domains.wanted_url(ctx.store, own)
        if url == ctx.store.url:
            return StepOutcome(f"kept {url}", skipped=True)
        before = ctx.store.url
        ctx.record(url=url, admin_url=url + "wp-admin/")
        done = self.shared.adopt_address(ctx)
        return StepOutcome(f"{before} → {url}: {done.message}")

    def _serve(self, ctx: StepContext) -> StepOutcome:
        routed = self._route(ctx)
        self.releases.rollout_step(ctx)
        redirect = self.domains.redirect(ctx, self.names.host(ctx.store))
        return StepOutcome(f"{routed.message}; the store's address is {ctx.store.url} ({redirect})")

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

    # -- verify, health, the checkout test --------------------------------------------

    def _verify(self, ctx: StepContext) -> StepOutcome:
        node = self.pods.simulated_node(ctx.store)
        if node is not None:
            # No kubelet runs the pod: nothing can answer for this store.
            message = (
                f"not verifiable: the store's pod runs on the simulated node {node} (kwok), "
                "where nothing serves HTTP; the storefront and the admin login were not checked"
            )
            ctx.event(message, level="warning")
            return StepOutcome(message, skipped=True)
        base, headers, sni = self.pods.storefront(ctx.store)
        return StepOutcome(
            check_storefront(
                base, ctx.store.name, timeout=ctx.remaining(), headers=headers, sni=sni,
                extra_cas=self.pods.extra_cas,
            )
        )  # fmt: skip

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        return self.day2.probe(store, timeout)

    def read_logs(self, store: StoreSnapshot, query: LogQuery) -> LogPage:
        return self.logs.read(store, query)

    def checkout_product(self, ctx: StepContext) -> int:
        return self.shared.checkout_product(ctx)

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        return self.shared.confirm_order(ctx, order_id)

    def check(self) -> None:
        self.cluster.check()
        if not (self.settings.k8s_chart / "Chart.yaml").is_file():
            raise PermanentError(
                f"no store chart at {self.settings.k8s_chart} (STOREFLEET_K8S_CHART)"
            )
        if shutil.which(self.helm.binary) is None and not Path(self.helm.binary).exists():
            raise PermanentError(
                f"helm ({self.helm.binary}) is not installed: put it on PATH, set "
                "STOREFLEET_HELM_BINARY, or run `make k8s-up` (var/k8s/bin/helm)"
            )
        self.namespaces.ensure_platform_namespace()
        self.shared.databases.ping()
