"""What a store is called on a cluster: its namespace, the labels that prove
an object is this store's, the names of the chart's objects, its Secret in
the platform namespace and its address behind the ingress."""

from __future__ import annotations

from storefleet.config import Settings
from storefleet.drivers.base import StoreSnapshot
from storefleet.names import require_valid_store_name, require_valid_store_uid

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
# The store chart's objects.
RELEASE = "store"
DEPLOYMENT = "store"
SERVICE = "store"
INSTALL_JOB = "install"
WEB_SELECTOR = "app.kubernetes.io/component=web"
ADMIN_SECRET = "store-admin"
# Inside the store image.
CONTAINER = "wordpress"
DOCROOT = "/var/www/html"
CONTENT = f"{DOCROOT}/wp-content"
INSTALLER = "/opt/storefleet/installer/storefleet-install.php"
#: Lays out wp-content (the links to the image's themes and WooCommerce),
#: then runs its arguments.
ENTRYPOINT = "/usr/local/bin/storefleet-store"


class StoreNames:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def namespace(self, store: StoreSnapshot) -> str:
        return self.settings.k8s_store_namespace_prefix + require_valid_store_name(store.name)

    @staticmethod
    def credentials(store: StoreSnapshot) -> str:
        """The store's Secret (database password, salts) in the platform namespace."""
        return f"store-{require_valid_store_uid(store.uid)}-credentials"

    @staticmethod
    def labels(store: StoreSnapshot) -> dict[str, str]:
        return {
            STORE_LABEL: str(store.id),
            UID_LABEL: store.uid,
            "app.kubernetes.io/managed-by": "storefleet",
        }

    def host(self, store: StoreSnapshot) -> str | None:
        """``<name>.<domain>`` when stores live behind an ingress."""
        domain = self.settings.k8s_store_domain
        return f"{require_valid_store_name(store.name)}.{domain}" if domain else None

    def ingress_url(self, store: StoreSnapshot) -> str | None:
        host = self.host(store)
        if host is None:
            return None
        tls = self.settings.k8s_store_tls
        port = self.settings.k8s_store_url_port
        netloc = host if port in (None, 443 if tls else 80) else f"{host}:{port}"
        return f"{'https' if tls else 'http'}://{netloc}/"
