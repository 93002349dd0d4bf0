"""The Kubernetes driver: each store is a namespace ``store-<name>`` holding a
Helm release of ``charts/woocommerce-store``, with a database and user of its
own on the shared stores MySQL server.

Provisioning: database → namespace → release → endpoint → install → rollout
→ verify; a clone of a backup puts the backup in after the rollout (content
→ data → adopt under its own address, title and admin password → upgrade
to the image's releases → restart → restarted) and then verifies.
Deletion: release → namespace → database → credentials → endpoint.

Day-2 (day2.py): health probes with the pod's reason (sent, like verify,
with the store's Host), backups (the database shared with the local driver;
wp-content through the pod), restores, the checkout test's installer actions
in the store's pod, suspend/resume by scaling the Deployment.
Every step converges when re-run. Waiting is done with watches that carry a
deadline, never with fixed sleeps.

- The store's address is known before the release when stores live behind an
  ingress (``<name>.<STOREFLEET_K8S_STORE_DOMAIN>``), else from its node port
  once the Service exists; the release carries it (``siteUrl``), and the
  chart's install Job exists only then.
- The install Job (``install-<release revision>``) runs the store installer,
  the same program as the local driver's. Each release revision has its own
  Job, so a re-run after its TTL, a failure or an upgrade is a new revision.
- A helm that died mid-release left the release pending: the release step
  rolls it back (or uninstalls a release that was never deployed) first.
- The store's database password and WordPress salts live in a Secret in the
  platform namespace (``store-<uid>-credentials``), created once; the
  merchant's admin password reaches the store namespace as a Secret the
  install Job reads, deleted once the store is installed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from storefleet.config import Settings
from storefleet.drivers import storedb
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.kubernetes.day2 import Day2Steps
from storefleet.drivers.kubernetes.helm import Helm
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront, storefront_request
from storefleet.names import require_valid_store_name, require_valid_store_uid

log = logging.getLogger(__name__)

STORE_LABEL = "storefleet.io/store"
#: The store's uid: what proves that a namespace or Secret is this store's
#: (row ids repeat after a platform-database reset; uids do not).
UID_LABEL = "storefleet.io/store-uid"
#: The platform release a store namespace belongs to (deploy.sh --purge-stores).
INSTANCE_LABEL = "storefleet.io/instance"
#: Pod Security: store namespaces enforce the restricted standard (the
#: platform's admission policy refuses the worker a namespace without it).
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
RELEASE = "store"
DEPLOYMENT = "store"
SERVICE = "store"
INSTALL_JOB = "install"
WEB_SELECTOR = "app.kubernetes.io/component=web"
ADMIN_SECRET = "store-admin"
ADMIN_USER = "admin"
_SALTS = {
    "authKey": "AUTH_KEY", "secureAuthKey": "SECURE_AUTH_KEY", "loggedInKey": "LOGGED_IN_KEY",
    "nonceKey": "NONCE_KEY", "authSalt": "AUTH_SALT", "secureAuthSalt": "SECURE_AUTH_SALT",
    "loggedInSalt": "LOGGED_IN_SALT", "nonceSalt": "NONCE_SALT",
}  # fmt: skip
_KWOK_ANNOTATION = "kwok.x-k8s.io/node"
# Errors talking to the API server that are worth retrying.
_NETWORK = (Urllib3HTTPError, OSError)


def _api_error(what: str, exc: ApiException) -> Exception:
    if exc.status in (429, 500, 502, 503, 504) or exc.status is None:
        return TransientError(f"{what}: the API server answered {exc.status} {exc.reason}")
    detail = exc.reason
    if exc.body:
        try:
            detail = json.loads(exc.body).get("message", detail)
        except ValueError:
            pass
    return PermanentError(f"{what}: {detail} ({exc.status})")


def _decode(data: Any) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


def rollout_complete(dep: Any) -> bool:
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


class KubernetesDriver(Day2Steps, StoreDriver):
    name = "kubernetes"

    def __init__(
        self,
        settings: Settings,
        databases: StoreDatabases | None = None,
        api_client: client.ApiClient | None = None,
    ) -> None:
        self.settings = settings
        self.databases = databases or storedb.from_settings(settings, "kubernetes")
        db_url = urlsplit(settings.stores_db_url or "mysql://mysql:3306/")
        self._db_host = settings.k8s_stores_db_host or db_url.hostname or "mysql"
        default_port = 3306 if settings.k8s_stores_db_host else (db_url.port or 3306)
        self._db_port = settings.k8s_stores_db_port or default_port
        self._in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
        kubeconfig = self._kubeconfig()
        self.api = api_client or self._load_client(kubeconfig)
        # Typed as Any: the client's models make every field Optional, and the
        # checks that matter here are on the API server's answers, not types.
        self.core: Any = client.CoreV1Api(self.api)
        self.apps: Any = client.AppsV1Api(self.api)
        self.batch: Any = client.BatchV1Api(self.api)
        self.rbac: Any = client.RbacAuthorizationV1Api(self.api)
        self.authz: Any = client.AuthorizationV1Api(self.api)
        self.networking: Any = client.NetworkingV1Api(self.api)
        env = None
        if kubeconfig is not None:
            env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.helm = Helm(self._helm_binary(), env=env)

    # -- where the cluster and the tools are -----------------------------------

    def _kubeconfig(self) -> Path | None:
        """The test environment's kubeconfig (``make k8s-up``) when nothing
        else names a cluster: not in a pod, no KUBECONFIG, no ~/.kube/config."""
        if self._in_cluster or os.environ.get("KUBECONFIG"):
            return None
        if (Path.home() / ".kube" / "config").is_file():
            return None
        candidate = self.settings.k8s_testenv_dir / "kubeconfig"
        return candidate if candidate.is_file() else None

    def _helm_binary(self) -> str:
        configured = self.settings.helm_binary
        if os.sep in configured or shutil.which(configured):
            return configured
        candidate = self.settings.k8s_testenv_dir / "bin" / configured
        return str(candidate) if candidate.exists() else configured

    @staticmethod
    def _load_client(kubeconfig: Path | None) -> client.ApiClient:
        try:
            config.load_incluster_config()
        except ConfigException:
            try:
                config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None)
            except (ConfigException, OSError) as exc:
                raise PermanentError(
                    "no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config, in-cluster, "
                    f"or `make k8s-up`'s var/k8s/kubeconfig): {exc}"
                ) from exc
        return client.ApiClient()

    # -- the contract -----------------------------------------------------

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        if clone:
            # A new store as usual, then the backup (unpacked by the fetch
            # step) in place of its fresh install, adopted under this store's
            # address, title and admin, and the pod restarted on it.
            return (
                Step("database", self._database),
                Step("namespace", self._namespace),
                Step("release", self._release),
                Step("endpoint", self._endpoint),
                Step("install", self._install),
                Step("rollout", self._rollout),
                Step("content", self._restore_files, reads_scratch=True),
                Step("data", self._restore_database, reads_scratch=True),
                Step("adopt", self._adopt_clone, consumes_admin_password=True),
                Step("upgrade", self._upgrade_to_image),
                Step("restart", self._restart),
                Step("restarted", self._rollout),
                Step("verify", self._verify),
            )
        return (
            Step("database", self._database),
            Step("namespace", self._namespace, consumes_admin_password=True),
            Step("release", self._release),
            Step("endpoint", self._endpoint),
            Step("install", self._install),
            Step("rollout", self._rollout),
            Step("verify", self._verify),
        )

    def delete_steps(self) -> Sequence[Step]:
        return (
            Step("release", self._uninstall),
            Step("namespace", self._delete_namespace),
            Step("database", self._drop_database),
            Step("credentials", self._delete_credentials),
            Step("endpoint", self._release_endpoint),
        )

    def check(self) -> None:
        try:
            client.VersionApi(self.api).get_code()
        except ApiException as exc:
            raise _api_error("the Kubernetes API server", exc) from exc
        except _NETWORK as exc:
            raise PermanentError(f"the Kubernetes API server is not reachable: {exc}") from exc
        if not (self.settings.k8s_chart / "Chart.yaml").is_file():
            raise PermanentError(
                f"no store chart at {self.settings.k8s_chart} (STOREFLEET_K8S_CHART)"
            )
        if shutil.which(self.helm.binary) is None and not Path(self.helm.binary).exists():
            raise PermanentError(
                f"helm ({self.helm.binary}) is not installed: put it on PATH, set "
                "STOREFLEET_HELM_BINARY, or run `make k8s-up` (var/k8s/bin/helm)"
            )
        self._ensure_platform_namespace()
        self.databases.ping()

    def _ensure_platform_namespace(self) -> None:
        """The namespace that holds the stores' credentials Secrets: created
        when missing (restricted Pod Security), or an error that says how."""
        ns = self.settings.k8s_platform_namespace
        try:
            self.core.read_namespace(ns)
            return
        except ApiException as exc:
            if exc.status not in (403, 404):
                raise _api_error(f"reading namespace {ns}", exc) from exc
            missing = exc.status == 404
        how = (
            f"create it (`kubectl create namespace {ns}`) or set STOREFLEET_K8S_PLATFORM_NAMESPACE"
        )
        if not missing:
            raise PermanentError(f"namespace {ns} cannot be read by this identity: {how}")
        body = client.V1Namespace(
            metadata=client.V1ObjectMeta(name=ns, labels=dict(POD_SECURITY_LABELS))
        )
        try:
            self.core.create_namespace(body)
        except ApiException as exc:
            if exc.status == 409:
                return
            raise PermanentError(
                f"namespace {ns} does not exist and could not be created "
                f"({exc.status} {exc.reason}): {how}"
            ) from exc
        log.info("created the platform namespace %s", ns)

    # -- names ------------------------------------------------------------

    def namespace(self, store: StoreSnapshot) -> str:
        return self.settings.k8s_store_namespace_prefix + require_valid_store_name(store.name)

    @staticmethod
    def _credentials_name(store: StoreSnapshot) -> str:
        return f"store-{require_valid_store_uid(store.uid)}-credentials"

    @staticmethod
    def _labels(store: StoreSnapshot) -> dict[str, str]:
        return {
            STORE_LABEL: str(store.id),
            UID_LABEL: store.uid,
            "app.kubernetes.io/managed-by": "storefleet",
        }

    def store_host(self, store: StoreSnapshot) -> str | None:
        """``<name>.<domain>`` when stores live behind an ingress."""
        domain = self.settings.k8s_store_domain
        return f"{require_valid_store_name(store.name)}.{domain}" if domain else None

    def ingress_url(self, store: StoreSnapshot) -> str | None:
        host = self.store_host(store)
        if host is None:
            return None
        tls = self.settings.k8s_store_tls
        port = self.settings.k8s_store_url_port
        netloc = host if port in (None, 443 if tls else 80) else f"{host}:{port}"
        return f"{'https' if tls else 'http'}://{netloc}/"

    # -- provisioning -----------------------------------------------------

    def _credentials(self, store: StoreSnapshot) -> dict[str, str]:
        """The store's database password and salts: read, or created once."""
        ns, name = self.settings.k8s_platform_namespace, self._credentials_name(store)
        try:
            return self._own_credentials(store, self.core.read_namespaced_secret(name, ns))
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"reading Secret {ns}/{name}", exc) from exc
        values = {"db_password": secrets.token_urlsafe(24)}
        values.update({key: secrets.token_urlsafe(48) for key in _SALTS})
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels=self._labels(store)),
            type="Opaque",
            string_data=values,
        )
        try:
            self.core.create_namespaced_secret(ns, body)
        except ApiException as exc:
            if exc.status == 409:  # created meanwhile by an earlier attempt: use that one
                return self._own_credentials(store, self.core.read_namespaced_secret(name, ns))
            raise _api_error(f"creating Secret {ns}/{name}", exc) from exc
        return values

    @staticmethod
    def _own_credentials(store: StoreSnapshot, secret: Any) -> dict[str, str]:
        owner = (secret.metadata.labels or {}).get(UID_LABEL)
        if owner != store.uid:
            raise PermanentError(
                f"Secret {secret.metadata.name} exists and was not created for this store "
                f"(its {UID_LABEL} label is {owner!r}); refusing to use it"
            )
        return _decode(secret.data)

    def _database(self, ctx: StepContext) -> StepOutcome:
        creds = self._credentials(ctx.store)
        n = self.databases.ensure(ctx.store.uid, creds["db_password"])
        return StepOutcome(f"database {n.database} and user {n.user} (tables {n.table_prefix}*)")

    def _namespace(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        try:
            existing = self.core.read_namespace(ns)
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"reading namespace {ns}", exc) from exc
            existing = None
        if existing is not None:
            labels = existing.metadata.labels or {}
            owner = labels.get(UID_LABEL)
            if owner != ctx.store.uid:
                raise PermanentError(
                    f"namespace {ns} exists and was not created for this store "
                    f"({UID_LABEL} is {owner!r}); refusing to adopt it"
                )
            if existing.status and existing.status.phase == "Terminating":
                raise TransientError(f"namespace {ns} is still being deleted")
            if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
                # The worker may not change namespaces: one made before the
                # label existed keeps running, and says so.
                ctx.event(
                    f"namespace {ns} does not enforce the restricted Pod Security level "
                    "(it was made by an older platform); recreate the store to get it",
                    level="warning",
                )
            made = "kept"
        else:
            body = client.V1Namespace(
                metadata=client.V1ObjectMeta(
                    name=ns,
                    labels={
                        **self._labels(ctx.store),
                        INSTANCE_LABEL: self.settings.k8s_instance,
                        "storefleet.io/store-name": ctx.store.name,
                        **POD_SECURITY_LABELS,
                    },
                )
            )
            try:
                self.core.create_namespace(body)
            except ApiException as exc:
                if exc.status != 409:
                    raise _api_error(f"creating namespace {ns}", exc) from exc
            made = "created"
        self._ensure_store_access(ctx.store, ns)
        self._ensure_admin_secret(ctx, ns)
        return StepOutcome(
            f"{made} namespace {ns} (Pod Security: restricted); "
            f"the admin password is in Secret {ADMIN_SECRET}"
        )

    def _ensure_store_access(self, store: StoreSnapshot, ns: str) -> None:
        """Per-namespace rights: bind the store-manager role to this worker in
        the store's namespace (RBAC cannot grant by namespace label), then
        check that the API server applies it before going on."""
        s = self.settings
        if s.k8s_store_access != "perNamespace":
            return
        if not s.k8s_store_role:
            raise PermanentError("STOREFLEET_K8S_STORE_ROLE is not set (perNamespace access)")
        body = client.V1RoleBinding(
            metadata=client.V1ObjectMeta(
                name=s.k8s_worker_service_account, labels=self._labels(store)
            ),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=s.k8s_store_role
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="ServiceAccount",
                    name=s.k8s_worker_service_account,
                    namespace=s.k8s_platform_namespace,
                )
            ],
        )
        try:
            self.rbac.create_namespaced_role_binding(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error(f"binding {s.k8s_store_role} in {ns}", exc) from exc
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=ns, verb="create", resource="secrets"
                )
            )
        )
        try:
            allowed = self.authz.create_self_subject_access_review(review).status.allowed
        except ApiException as exc:
            raise _api_error("checking the worker's rights", exc) from exc
        if not allowed:
            # RBAC caches take a moment to see a new binding: the runner retries.
            raise TransientError(f"the worker's rights in {ns} are not in effect yet")

    def _ensure_admin_secret(self, ctx: StepContext, ns: str) -> None:
        try:
            self.core.read_namespaced_secret(ADMIN_SECRET, ns)
            return
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"reading Secret {ns}/{ADMIN_SECRET}", exc) from exc
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=ADMIN_SECRET, labels=self._labels(ctx.store)),
            type="Opaque",
            string_data={"password": ctx.admin_password(), "email": ctx.store.admin_email},
        )
        try:
            self.core.create_namespaced_secret(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error(f"creating Secret {ns}/{ADMIN_SECRET}", exc) from exc

    def _values(self, store: StoreSnapshot) -> tuple[dict[str, Any], dict[str, Any]]:
        """(plain values, secret values) for the store chart."""
        s = self.settings
        n = self.databases.names(store.uid)
        creds = self._credentials(store)
        plain: dict[str, Any] = {
            "storeId": store.id,
            "storeUid": store.uid,
            "storeName": store.name,
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
        host = self.store_host(store)
        if host:
            plain["ingress"] = {"enabled": True, "host": host, "tls": {"enabled": s.k8s_store_tls}}
        secret: dict[str, Any] = {
            "database": {"password": creds["db_password"]},
            "salts": {key: creds[key] for key in _SALTS},
        }
        if s.k8s_store_smtp_password is not None:
            secret["smtp"] = {"password": s.k8s_store_smtp_password.get_secret_value()}
        return plain, secret

    def _helm_install(self, ctx: StepContext) -> None:
        plain, secret = self._values(ctx.store)
        merged = _merge(plain, secret)
        files = [self.settings.k8s_store_values] if self.settings.k8s_store_values else []
        self.helm.upgrade_install(
            RELEASE,
            self.settings.k8s_chart,
            self.namespace(ctx.store),
            value_files=files,
            secret_values=merged,
            timeout=ctx.remaining(),
        )

    def _recover_release(self, ctx: StepContext) -> str | None:
        recovered = self.helm.recover(RELEASE, self.namespace(ctx.store), timeout=ctx.remaining())
        if recovered:
            ctx.event(f"release {RELEASE}: {recovered}", level="warning")
        return recovered

    def _release(self, ctx: StepContext) -> StepOutcome:
        recovered = self._recover_release(ctx)
        url = self.ingress_url(ctx.store)
        if url and url != ctx.store.url:
            # Known before the release: the release carries it, and the
            # install Job runs with it at once.
            ctx.record(url=url, admin_url=url + "wp-admin/")
        self._helm_install(ctx)
        note = f" ({recovered})" if recovered else ""
        return StepOutcome(f"helm release {RELEASE} in {self.namespace(ctx.store)}{note}")

    def _endpoint(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        url = self.ingress_url(ctx.store)
        if url is None:
            try:
                svc = self.core.read_namespaced_service(SERVICE, ns)
            except ApiException as exc:
                raise _api_error(f"reading Service {ns}/{SERVICE}", exc) from exc
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
        self._helm_install(ctx)
        return StepOutcome(f"{url} (the release now carries it)")

    def _install_job(self, ns: str, revision: int) -> Any | None:
        try:
            return self.batch.read_namespaced_job(f"{INSTALL_JOB}-{revision}", ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _api_error(f"reading Job {ns}/{INSTALL_JOB}-{revision}", exc) from exc

    @staticmethod
    def _job_failed(job: Any) -> Any | None:
        conditions = (job.status.conditions if job.status else None) or []
        for cond in conditions:
            if cond.type == "Failed" and cond.status == "True":
                return cond
        return None

    def _install(self, ctx: StepContext) -> StepOutcome:
        """Wait for this revision's install Job; a Job that is gone (its TTL)
        or failed before this attempt is replaced by a new revision's."""
        ns = self.namespace(ctx.store)
        revision = self.helm.revision(RELEASE, ns, timeout=ctx.remaining())
        if revision is not None and revision.pending:
            self._recover_release(ctx)
            revision = None
        job = self._install_job(ns, revision.number) if revision else None
        rerun = ""
        if job is None or self._job_failed(job) is not None:
            rerun = "gone" if job is None else "failed"
            self._helm_install(ctx)
            revision = self.helm.revision(RELEASE, ns, timeout=ctx.remaining())
            if revision is None:
                raise TransientError(f"release {RELEASE} is not there after helm upgrade")
        name = f"{INSTALL_JOB}-{revision.number}" if revision else INSTALL_JOB

        def done(job: Any) -> bool:
            cond = self._job_failed(job)
            if cond is not None:
                raise PermanentError(
                    f"the install Job {name} failed: {self._job_reason(ns, name, cond)}"
                )
            return bool(job.status and job.status.succeeded)

        self._wait(self.batch.list_namespaced_job, ns, name, done, ctx,
                   f"the install Job {name}", reason=lambda: self._warnings(ns))  # fmt: skip
        try:
            self.core.delete_namespaced_secret(ADMIN_SECRET, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"deleting Secret {ns}/{ADMIN_SECRET}", exc) from exc
        again = f" (the previous Job was {rerun}: a new revision ran it again)" if rerun else ""
        return StepOutcome(
            f"the install Job {name} completed{again}; the admin password Secret is deleted"
        )

    def _job_reason(self, ns: str, job: str, cond: Any) -> str:
        reason = f"{cond.reason}: {cond.message}" if cond.message else str(cond.reason)
        try:
            pods = self.core.list_namespaced_pod(ns, label_selector=f"job-name={job}")
            for pod in pods.items[-1:]:
                # Raw bytes: kubernetes 36's client hands a log back as the
                # repr of bytes ("b'...\\n'") when it deserialises it.
                raw = self.core.read_namespaced_pod_log(
                    pod.metadata.name, ns, tail_lines=8, _preload_content=False
                )
                logs = raw.data.decode("utf-8", "replace")
                if logs.strip():
                    reason += f"; last log lines: {logs.strip()[-600:]}"
        except ApiException:
            pass  # the reason from the condition is still worth reporting
        return reason

    def _rollout(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        self._wait(self.apps.list_namespaced_deployment, ns, DEPLOYMENT, rollout_complete, ctx,
                   "the store Deployment", reason=lambda: self._warnings(ns))  # fmt: skip
        return StepOutcome(f"Deployment {DEPLOYMENT} rolled out: every replica updated, available")

    def _warnings(self, ns: str, since: dt.datetime | None = None) -> str:
        """The namespace's last three warnings (those since ``since``)."""
        try:
            events = self.core.list_namespaced_event(ns, field_selector="type=Warning").items
        except ApiException:
            return ""

        def when(e: Any) -> dt.datetime:
            return e.last_timestamp or e.event_time or e.metadata.creation_timestamp

        events = [e for e in events if since is None or when(e) >= since]
        events.sort(key=when)
        return "; ".join(f"{e.reason}: {e.message}" for e in events[-3:])

    def simulated_node(self, store: StoreSnapshot) -> str | None:
        """The simulated (kwok) node the store's pod runs on, or None when it
        runs on a real one. Read from the pod's node; a worker that may not
        read nodes falls back to STOREFLEET_K8S_NODES_SIMULATED."""
        ns = self.namespace(store)
        try:
            pods = self.core.list_namespaced_pod(ns, label_selector=WEB_SELECTOR).items
        except ApiException as exc:
            raise _api_error(f"listing the store's pods in {ns}", exc) from exc
        nodes = sorted({p.spec.node_name for p in pods if p.spec and p.spec.node_name})
        for name in nodes:
            try:
                node = self.core.read_node(name)
            except ApiException as exc:
                if exc.status in (403, 404):
                    return name if self.settings.k8s_nodes_simulated else None
                raise _api_error(f"reading node {name}", exc) from exc
            if (node.metadata.annotations or {}).get(_KWOK_ANNOTATION) == "fake":
                return str(name)
        return None

    def storefront(self, store: StoreSnapshot) -> tuple[str, dict[str, str]]:
        """Where to send the storefront check, and the headers that make the
        store answer as it does to its visitors (its Host, and the scheme
        TLS ends with): the Service from inside the cluster, the store's
        address from outside."""
        if not store.url:
            raise PermanentError("the store has no URL (the endpoint step did not run)")
        if self._in_cluster:
            url = urlsplit(store.url)
            headers = {"Host": url.netloc}
            if url.scheme == "https":
                headers["X-Forwarded-Proto"] = "https"
            return f"http://{SERVICE}.{self.namespace(store)}.svc.cluster.local/", headers
        return storefront_request(store.url)

    def _verify(self, ctx: StepContext) -> StepOutcome:
        node = self.simulated_node(ctx.store)
        if node is not None:
            # No kubelet runs the pod: nothing can answer for this store.
            message = (
                f"not verifiable: the store's pod runs on the simulated node {node} (kwok), "
                "where nothing serves HTTP; the storefront and the admin login were not checked"
            )
            ctx.event(message, level="warning")
            return StepOutcome(message, skipped=True)
        base, headers = self.storefront(ctx.store)
        return StepOutcome(
            check_storefront(base, ctx.store.name, timeout=ctx.remaining(), headers=headers)
        )

    def _adopt_clone(self, ctx: StepContext) -> StepOutcome:
        """The cloned database answers to this store's address and title, and
        its admin signs in with this store's password (the source's is gone)."""
        store = ctx.store
        if not store.url:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        result = self._installer(
            ctx,
            {
                "action": "adopt",
                "url": store.url,
                "title": store.name,
                "admin_user": ADMIN_USER,
                "admin_email": store.admin_email,
                "admin_password": ctx.admin_password(),
            },
        )
        return StepOutcome(
            f"address {result.get('url')} ({result.get('replaced')} value(s) changed); "
            f"admin '{ADMIN_USER}' has a new password"
        )

    # -- deletion ---------------------------------------------------------

    def _uninstall(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        try:
            self.core.read_namespace(ns)
        except ApiException as exc:
            if exc.status == 404:
                return StepOutcome(f"namespace {ns} is already gone")
            raise _api_error(f"reading namespace {ns}", exc) from exc
        removed = self.helm.uninstall(RELEASE, ns, timeout=ctx.remaining())
        return StepOutcome("uninstalled the release" if removed else "no release was installed")

    def _delete_namespace(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        try:
            existing = self.core.read_namespace(ns)
        except ApiException as exc:
            if exc.status == 404:
                return StepOutcome(f"namespace {ns} is gone")
            raise _api_error(f"reading namespace {ns}", exc) from exc
        if (existing.metadata.labels or {}).get(UID_LABEL) != ctx.store.uid:
            raise PermanentError(f"namespace {ns} does not belong to this store; not deleting it")
        try:
            self.core.delete_namespace(ns, propagation_policy="Foreground")
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"deleting namespace {ns}", exc) from exc
        self._wait_gone(ns, ctx)
        return StepOutcome(f"namespace {ns} deleted and finalised")

    def _wait_gone(self, ns: str, ctx: StepContext) -> None:
        w = watch.Watch()
        try:
            while ctx.remaining() > 0:
                try:
                    self.core.read_namespace(ns)
                except ApiException as exc:
                    if exc.status == 404:
                        return
                    raise _api_error(f"reading namespace {ns}", exc) from exc
                for event in w.stream(
                    self.core.list_namespace,
                    field_selector=f"metadata.name={ns}",
                    timeout_seconds=max(1, min(30, int(ctx.remaining()))),
                ):
                    if event["type"] == "DELETED":
                        return
                ctx.check_stop()
        except _NETWORK as exc:
            raise TransientError(f"watching namespace {ns}: {exc}") from exc
        finally:
            w.stop()
        raise TransientError(f"namespace {ns} is still terminating")

    def _drop_database(self, ctx: StepContext) -> StepOutcome:
        return storedb.drop_step(self.databases, ctx)

    def _delete_credentials(self, ctx: StepContext) -> StepOutcome:
        ns, name = self.settings.k8s_platform_namespace, self._credentials_name(ctx.store)
        try:
            self.core.delete_namespaced_secret(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(f"deleting Secret {ns}/{name}", exc) from exc
        return StepOutcome(f"deleted Secret {ns}/{name}")

    def _release_endpoint(self, ctx: StepContext) -> StepOutcome:
        ctx.record(url=None, admin_url=None)
        return StepOutcome("released the address")

    # -- watching ---------------------------------------------------------

    def _wait(
        self,
        list_fn: Callable[..., Any],
        ns: str,
        name: str,
        predicate: Callable[[Any], bool],
        ctx: StepContext,
        what: str,
        reason: Callable[[], str] | None = None,
    ) -> None:
        """Watch one object until ``predicate`` holds, up to the step deadline."""
        selector = f"metadata.name={name}"
        w = watch.Watch()
        try:
            while ctx.remaining() > 0:
                ctx.check_stop()
                current = list_fn(ns, field_selector=selector)
                if current.items and predicate(current.items[0]):
                    return
                for event in w.stream(
                    list_fn,
                    ns,
                    field_selector=selector,
                    resource_version=current.metadata.resource_version,
                    timeout_seconds=max(1, min(15, int(ctx.remaining()))),
                ):
                    if event["type"] in ("ADDED", "MODIFIED") and predicate(event["object"]):
                        return
        except ApiException as exc:
            if exc.status == 410:  # resource version too old: list again next time
                raise TransientError(f"watching {what}: history expired") from exc
            raise _api_error(f"watching {what}", exc) from exc
        except _NETWORK as exc:
            raise TransientError(f"watching {what}: {exc}") from exc
        finally:
            w.stop()
        extra = reason() if reason else ""
        raise TransientError(f"{what} was not ready in time" + (f" ({extra})" if extra else ""))


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
