"""A store's Helm release of ``charts/woocommerce-store``: its values (plain,
and secret ones passed in a 0600 file), ``helm upgrade --install``, the
recovery of a release a killed helm left pending, the store's address, the
install Job of each release revision, the rollout, and uninstalling.

- The store's address is known before the release when stores live behind an
  ingress (``<name>.<STOREFLEET_K8S_STORE_DOMAIN>``), else from its node port
  once the Service exists; the release carries it (``siteUrl``), and the
  chart's install Job exists only then.
- The install Job (``install-<release revision>``) runs the store installer,
  the same program as the local driver's. Each release revision has its own
  Job, so a re-run after its TTL, a failure or an upgrade is a new revision.
- A helm that died mid-release left the release pending: the release step
  rolls it back (or uninstalls a release that was never deployed) first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storefleet.config import Settings
from storefleet.drivers.base import (
    PermanentError,
    StepContext,
    StepOutcome,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.kubernetes.cluster import Cluster, api_error
from storefleet.drivers.kubernetes.domains import KubeDomains
from storefleet.drivers.kubernetes.helm import Helm
from storefleet.drivers.kubernetes.names import (
    ADMIN_SECRET,
    DEPLOYMENT,
    INSTALL_JOB,
    RELEASE,
    SERVICE,
    StoreNames,
)
from storefleet.drivers.kubernetes.namespace import StoreNamespaces, chart_key
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.wordpress import ADMIN_USER, SALTS


def rollout_complete(dep: client.V1Deployment) -> bool:
    """What ``kubectl rollout status`` waits for: the controller has seen the
    latest spec, every replica runs it, no old replica is left, and every
    updated replica is available. A rollout past its progress deadline is an
    error that names the reason."""
    spec, status, meta = dep.spec, dep.status, dep.metadata
    if status is None or (status.observed_generation or 0) < (meta.generation or 0):
        return False
    for cond in status.conditions or []:
        if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
            raise TransientError(
                f"Deployment {meta.name} exceeded its progress deadline: {cond.message}"
            )
    wanted = 1 if spec.replicas is None else int(spec.replicas)
    updated = status.updated_replicas or 0
    return (
        updated >= wanted
        and (status.replicas or 0) <= updated
        and (status.available_replicas or 0) >= updated
    )


def _job_failed(job: client.V1Job) -> client.V1JobCondition | None:
    conditions = (job.status.conditions if job.status else None) or []
    for cond in conditions:
        if cond.type == "Failed" and cond.status == "True":
            return cond
    return None


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class StoreReleases:
    def __init__(
        self,
        settings: Settings,
        cluster: Cluster,
        names: StoreNames,
        namespaces: StoreNamespaces,
        databases: StoreDatabases,
        helm: Helm,
        domains: KubeDomains,
    ) -> None:
        self.domains = domains
        self.settings = settings
        self.cluster = cluster
        self.names = names
        self.namespaces = namespaces
        self.databases = databases
        self.helm = helm
        db_url = urlsplit(settings.stores_db_url or "mysql://mysql:3306/")
        self._db_host = settings.k8s_stores_db_host or db_url.hostname or "mysql"
        default_port = 3306 if settings.k8s_stores_db_host else (db_url.port or 3306)
        self._db_port = settings.k8s_stores_db_port or default_port

    # -- values and helm ----------------------------------------------------------

    def values(
        self, store: StoreSnapshot, plan: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(plain values, secret values) for the store chart."""
        s = self.settings
        n = self.databases.names(store.uid)
        creds = self.namespaces.credentials(store)
        plain: dict[str, Any] = {
            "storeId": store.id,
            "storeUid": store.uid,
            "storeName": store.name,
            "plan": plan or store.plan,
            "siteUrl": (store.url or "").rstrip("/"),
            "database": {
                "host": self._db_host, "port": self._db_port, "name": n.database,
                "user": n.user, "tablePrefix": n.table_prefix,
            },
            "admin": {
                "user": ADMIN_USER, "email": store.admin_email, "existingSecret": ADMIN_SECRET,
            },
            "woocommerce": {
                "sampleProducts": store.sample_products,
                "country": s.store_country, "currency": s.store_currency,
            },
        }  # fmt: skip
        host = self.names.host(store)
        if host:
            plain["ingress"] = {
                "enabled": True, "host": host, "tls": {"enabled": s.k8s_store_tls},
                # The store's custom domains (drivers/kubernetes/domains.py).
                "extraHosts": self.domains.values(store),
            }  # fmt: skip
        secret: dict[str, Any] = {
            "database": {"password": creds["db_password"]},
            "salts": {chart_key(salt): creds[chart_key(salt)] for salt in SALTS},
        }
        if s.k8s_store_smtp_password is not None:
            secret["smtp"] = {"password": s.k8s_store_smtp_password.get_secret_value()}
        return plain, secret

    def _wanted_url(self, store: StoreSnapshot) -> str | None:
        """The store's address: its name's behind the ingress, unless it is
        on one of its custom domains."""
        own = self.names.ingress_url(store)
        return self.domains.wanted_url(store, own) if own else None

    def install_release(self, ctx: StepContext) -> None:
        # A resize names the plan it applies (recorded once it is in effect).
        plain, secret = self.values(ctx.store, _wanted_plan(ctx))
        files = [self.settings.k8s_store_values] if self.settings.k8s_store_values else []
        self.helm.upgrade_install(
            RELEASE,
            self.settings.k8s_chart,
            self.names.namespace(ctx.store),
            value_files=files,
            secret_values=_merge(plain, secret),
            timeout=ctx.remaining(),
        )

    def _recover(self, ctx: StepContext) -> str | None:
        ns = self.names.namespace(ctx.store)
        recovered = self.helm.recover(RELEASE, ns, timeout=ctx.remaining())
        if recovered:
            ctx.event(f"release {RELEASE}: {recovered}", level="warning")
        return recovered

    # -- steps ----------------------------------------------------------------------

    def release_step(self, ctx: StepContext) -> StepOutcome:
        recovered = self._recover(ctx)
        url = self._wanted_url(ctx.store)
        if url and url != ctx.store.url:
            # Known before the release: the release carries it, and the
            # install Job runs with it at once.
            ctx.record(url=url, admin_url=url + "wp-admin/")
        self.install_release(ctx)
        note = f" ({recovered})" if recovered else ""
        plan = _wanted_plan(ctx) or ctx.store.plan
        if plan != ctx.store.plan:
            ctx.record(plan=plan)
            note += f"; plan {plan}"
        return StepOutcome(f"helm release {RELEASE} in {self.names.namespace(ctx.store)}{note}")

    def endpoint_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        url = self._wanted_url(ctx.store)
        if url is None:
            try:
                svc = self.cluster.core.read_namespaced_service(SERVICE, ns)
            except ApiException as exc:
                raise api_error(f"reading Service {ns}/{SERVICE}", exc) from exc
            if svc.spec.type == "NodePort" and svc.spec.ports and svc.spec.ports[0].node_port:
                url = f"http://{self.settings.public_host}:{svc.spec.ports[0].node_port}/"
            else:
                raise PermanentError(
                    f"Service {SERVICE} is {svc.spec.type} and STOREFLEET_K8S_STORE_DOMAIN is "
                    "not set: the store has no address outside the cluster"
                )
        if url == ctx.store.url:
            return StepOutcome(url)
        ctx.record(url=url, admin_url=url + "wp-admin/")
        # The site's address is part of the release (and the install Job
        # runs only once it is there): roll it out.
        self.install_release(ctx)
        return StepOutcome(f"{url} (the release now carries it)")

    def install_step(self, ctx: StepContext) -> StepOutcome:
        """Wait for this revision's install Job; a Job that is gone (its TTL)
        or failed before this attempt is replaced by a new revision's."""
        ns = self.names.namespace(ctx.store)
        revision = self.helm.revision(RELEASE, ns, timeout=ctx.remaining())
        if revision is not None and revision.pending:
            self._recover(ctx)
            revision = None
        job = self._install_job(ns, revision.number) if revision else None
        rerun = ""
        if job is None or _job_failed(job) is not None:
            rerun = "gone" if job is None else "failed"
            self.install_release(ctx)
            revision = self.helm.revision(RELEASE, ns, timeout=ctx.remaining())
            if revision is None:
                raise TransientError(f"release {RELEASE} is not there after helm upgrade")
        name = f"{INSTALL_JOB}-{revision.number}" if revision else INSTALL_JOB

        def done(job: client.V1Job) -> bool:
            cond = _job_failed(job)
            if cond is not None:
                raise PermanentError(
                    f"the install Job {name} failed: {self._job_reason(ns, name, cond)}"
                )
            return bool(job.status and job.status.succeeded)

        self.cluster.wait_for(self.cluster.batch.list_namespaced_job, ns, name, done, ctx,
                              f"the install Job {name}",
                              reason=lambda: self.cluster.warnings(ns))  # fmt: skip
        self.namespaces.delete_admin_secret(ns)
        again = f" (the previous Job was {rerun}: a new revision ran it again)" if rerun else ""
        return StepOutcome(
            f"the install Job {name} completed{again}; the admin password Secret is deleted"
        )

    def _install_job(self, ns: str, revision: int) -> client.V1Job | None:
        try:
            return self.cluster.batch.read_namespaced_job(f"{INSTALL_JOB}-{revision}", ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise api_error(f"reading Job {ns}/{INSTALL_JOB}-{revision}", exc) from exc

    def _job_reason(self, ns: str, job: str, cond: client.V1JobCondition) -> str:
        reason = f"{cond.reason}: {cond.message}" if cond.message else str(cond.reason)
        core = self.cluster.core
        try:
            pods = core.list_namespaced_pod(ns, label_selector=f"job-name={job}")
            for pod in pods.items[-1:]:
                # Raw bytes: kubernetes 36's client hands a log back as the
                # repr of bytes ("b'...\\n'") when it deserialises it.
                raw = core.read_namespaced_pod_log(
                    pod.metadata.name, ns, tail_lines=8, _preload_content=False
                )
                logs = raw.data.decode("utf-8", "replace")
                if logs.strip():
                    reason += f"; last log lines: {logs.strip()[-600:]}"
        except ApiException:
            pass  # the reason from the condition is still worth reporting
        return reason

    def rollout_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        self.cluster.wait_for(self.cluster.apps.list_namespaced_deployment, ns, DEPLOYMENT,
                              rollout_complete, ctx, "the store Deployment",
                              reason=lambda: self.cluster.warnings(ns))  # fmt: skip
        return StepOutcome(f"Deployment {DEPLOYMENT} rolled out: every replica updated, available")

    def uninstall_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        try:
            self.cluster.core.read_namespace(ns)
        except ApiException as exc:
            if exc.status == 404:
                return StepOutcome(f"namespace {ns} is already gone")
            raise api_error(f"reading namespace {ns}", exc) from exc
        removed = self.helm.uninstall(RELEASE, ns, timeout=ctx.remaining())
        return StepOutcome("uninstalled the release" if removed else "no release was installed")

    @staticmethod
    def release_endpoint_step(ctx: StepContext) -> StepOutcome:
        ctx.record(url=None, admin_url=None)
        return StepOutcome("released the address")


def _wanted_plan(ctx: StepContext) -> str | None:
    wanted = ctx.operation.params.get("plan")
    return str(wanted) if wanted else None
