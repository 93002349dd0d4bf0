"""A store's namespace and Secrets: the namespace ``store-<name>`` (restricted
Pod Security, labelled with the store's uid, never adopted when it is not the
store's), the worker's rights in it, the admin password Secret the install
Job reads, and the store's credentials Secret in the platform namespace —
its database password and WordPress salts, created once and never again.
"""

from __future__ import annotations

import logging

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
from storefleet.drivers.kubernetes.cluster import Cluster, api_error, decode
from storefleet.drivers.kubernetes.names import (
    ADMIN_SECRET,
    INSTANCE_LABEL,
    POD_SECURITY_LABELS,
    UID_LABEL,
    StoreNames,
)
from storefleet.drivers.wordpress import new_site_secrets

log = logging.getLogger(__name__)


def chart_key(salt: str) -> str:
    """A wp-config salt constant as the store chart's value key (AUTH_KEY → authKey)."""
    first, *rest = salt.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


class StoreNamespaces:
    def __init__(self, settings: Settings, cluster: Cluster, names: StoreNames) -> None:
        self.settings = settings
        self.cluster = cluster
        self.names = names

    # -- the platform namespace and the store's credentials ---------------------

    def ensure_platform_namespace(self) -> None:
        """The namespace that holds the stores' credentials Secrets: created
        when missing (restricted Pod Security), or an error that says how."""
        ns = self.settings.k8s_platform_namespace
        core = self.cluster.core
        try:
            core.read_namespace(ns)
            return
        except ApiException as exc:
            if exc.status not in (403, 404):
                raise api_error(f"reading namespace {ns}", exc) from exc
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
            core.create_namespace(body)
        except ApiException as exc:
            if exc.status == 409:
                return
            raise PermanentError(
                f"namespace {ns} does not exist and could not be created "
                f"({exc.status} {exc.reason}): {how}"
            ) from exc
        log.info("created the platform namespace %s", ns)

    def credentials(self, store: StoreSnapshot) -> dict[str, str]:
        """The store's database password (``db_password``) and salts (by
        chart key): read, or created once."""
        ns, name = self.settings.k8s_platform_namespace, self.names.credentials(store)
        core = self.cluster.core
        try:
            return self._own_credentials(store, core.read_namespaced_secret(name, ns))
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"reading Secret {ns}/{name}", exc) from exc
        fresh = new_site_secrets()
        values = {chart_key(k) if k != "db_password" else k: v for k, v in fresh.items()}
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels=self.names.labels(store)),
            type="Opaque",
            string_data=values,
        )
        try:
            core.create_namespaced_secret(ns, body)
        except ApiException as exc:
            if exc.status == 409:  # created meanwhile by an earlier attempt: use that one
                return self._own_credentials(store, core.read_namespaced_secret(name, ns))
            raise api_error(f"creating Secret {ns}/{name}", exc) from exc
        return values

    def db_password(self, store: StoreSnapshot) -> str:
        return self.credentials(store)["db_password"]

    @staticmethod
    def _own_credentials(store: StoreSnapshot, secret: client.V1Secret) -> dict[str, str]:
        owner = (secret.metadata.labels or {}).get(UID_LABEL)
        if owner != store.uid:
            raise PermanentError(
                f"Secret {secret.metadata.name} exists and was not created for this store "
                f"(its {UID_LABEL} label is {owner!r}); refusing to use it"
            )
        return decode(secret.data)

    def delete_credentials_step(self, ctx: StepContext) -> StepOutcome:
        ns, name = self.settings.k8s_platform_namespace, self.names.credentials(ctx.store)
        try:
            self.cluster.core.delete_namespaced_secret(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"deleting Secret {ns}/{name}", exc) from exc
        return StepOutcome(f"deleted Secret {ns}/{name}")

    # -- the store's namespace ------------------------------------------------------

    def namespace_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        core = self.cluster.core
        try:
            existing = core.read_namespace(ns)
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"reading namespace {ns}", exc) from exc
            existing = None
        if existing is not None:
            self._check_existing(ctx, ns, existing)
            made = "kept"
        else:
            body = client.V1Namespace(
                metadata=client.V1ObjectMeta(
                    name=ns,
                    labels={
                        **self.names.labels(ctx.store),
                        INSTANCE_LABEL: self.settings.k8s_instance,
                        "storefleet.io/store-name": ctx.store.name,
                        **POD_SECURITY_LABELS,
                    },
                )
            )
            try:
                core.create_namespace(body)
            except ApiException as exc:
                if exc.status != 409:
                    raise api_error(f"creating namespace {ns}", exc) from exc
            made = "created"
        self._ensure_store_access(ctx.store, ns)
        self._ensure_admin_secret(ctx, ns)
        return StepOutcome(
            f"{made} namespace {ns} (Pod Security: restricted); "
            f"the admin password is in Secret {ADMIN_SECRET}"
        )

    @staticmethod
    def _check_existing(ctx: StepContext, ns: str, existing: client.V1Namespace) -> None:
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
                name=s.k8s_worker_service_account, labels=self.names.labels(store)
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
            self.cluster.rbac.create_namespaced_role_binding(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise api_error(f"binding {s.k8s_store_role} in {ns}", exc) from exc
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=ns, verb="create", resource="secrets"
                )
            )
        )
        try:
            allowed = self.cluster.authz.create_self_subject_access_review(review).status.allowed
        except ApiException as exc:
            raise api_error("checking the worker's rights", exc) from exc
        if not allowed:
            # RBAC caches take a moment to see a new binding: the runner retries.
            raise TransientError(f"the worker's rights in {ns} are not in effect yet")

    def _ensure_admin_secret(self, ctx: StepContext, ns: str) -> None:
        core = self.cluster.core
        try:
            core.read_namespaced_secret(ADMIN_SECRET, ns)
            return
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"reading Secret {ns}/{ADMIN_SECRET}", exc) from exc
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=ADMIN_SECRET, labels=self.names.labels(ctx.store)),
            type="Opaque",
            string_data={"password": ctx.admin_password(), "email": ctx.store.admin_email},
        )
        try:
            core.create_namespaced_secret(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise api_error(f"creating Secret {ns}/{ADMIN_SECRET}", exc) from exc

    def delete_admin_secret(self, ns: str) -> None:
        try:
            self.cluster.core.delete_namespaced_secret(ADMIN_SECRET, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"deleting Secret {ns}/{ADMIN_SECRET}", exc) from exc

    def delete_namespace_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        core = self.cluster.core
        try:
            existing = core.read_namespace(ns)
        except ApiException as exc:
            if exc.status == 404:
                return StepOutcome(f"namespace {ns} is gone")
            raise api_error(f"reading namespace {ns}", exc) from exc
        if (existing.metadata.labels or {}).get(UID_LABEL) != ctx.store.uid:
            raise PermanentError(f"namespace {ns} does not belong to this store; not deleting it")
        try:
            core.delete_namespace(ns, propagation_policy="Foreground")
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"deleting namespace {ns}", exc) from exc
        self.cluster.wait_namespace_gone(ns, ctx)
        return StepOutcome(f"namespace {ns} deleted and finalised")
