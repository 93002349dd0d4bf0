"""A Kubernetes store's custom domains (docs/domains.md): routed to it by the
store chart's Ingresses (``ingress.extraHosts``: plain http for every routed
domain, TLS with its Secret for each that has its certificate), ACME's
HTTP-01 challenges answered by WordPress in the store's pod (a must-use
plugin the worker puts in its wp-content, with the answers as files beside
it: the store image's web server is the image's), certificates kept in
``tls-<domain>`` Secrets of the store's namespace, and the store's address:
its active primary domain (the release's ``siteUrl``), or its name's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StoreSnapshot, TransientError
from storefleet.drivers.kubernetes.cluster import Cluster, api_error
from storefleet.drivers.kubernetes.names import CONTENT, StoreNames
from storefleet.drivers.kubernetes.pods import StorePods
from storefleet.drivers.verify import storefront_request, wait_for_answer
from storefleet.names import require_valid_domain

#: The platform's must-use plugins, as this package ships them.
MU_PLUGINS = Path(__file__).resolve().parents[2] / "installer" / "mu-plugins"
#: An ACME challenge token: base64url (RFC 8555, 8.3).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_PLUGIN = "storefleet-acme.php"
_ANSWERS = f"{CONTENT}/storefleet-acme"


def tls_secret(domain: str) -> str:
    return f"tls-{require_valid_domain(domain)}"


class KubeDomains:
    def __init__(
        self, settings: Settings, cluster: Cluster, names: StoreNames, pods: StorePods
    ) -> None:
        self.settings = settings
        self.cluster = cluster
        self.names = names
        self.pods = pods

    # -- what is served ------------------------------------------------------------

    def certificate_expiry(self, store: StoreSnapshot, domain: str) -> dt.datetime | None:
        ns = self.names.namespace(store)
        try:
            secret = self.cluster.core.read_namespaced_secret(tls_secret(domain), ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise api_error(f"reading Secret {ns}/{tls_secret(domain)}", exc) from exc
        try:
            pem = base64.b64decode((secret.data or {}).get("tls.crt", ""))
            return x509.load_pem_x509_certificate(pem).not_valid_after_utc
        except ValueError:
            return None

    def served(self, store: StoreSnapshot) -> tuple[list[str], list[str]]:
        """(routed domains, those served over TLS with a valid certificate)."""
        routed, tls = [], []
        now = dt.datetime.now(dt.UTC)
        for d in store.domains:
            if not d.routed:
                continue
            routed.append(d.name)
            expires = self.certificate_expiry(store, d.name) if d.active else None
            if expires is not None and expires > now:
                tls.append(d.name)
        return routed, tls

    def values(self, store: StoreSnapshot) -> list[dict[str, Any]]:
        """The store chart's ``ingress.extraHosts``."""
        routed, tls = self.served(store)
        return [{"host": name, "tlsSecret": tls_secret(name) if name in tls else ""}
                for name in routed]  # fmt: skip

    def url(self, domain: str) -> str:
        port = self.settings.k8s_store_https_port
        return f"https://{domain}" + ("" if port in (None, 443) else f":{port}") + "/"

    def wanted_url(self, store: StoreSnapshot, platform_url: str) -> str:
        """The store's address: its primary domain once served over TLS;
        else the domain it is on, while that is served; else its name's."""
        _, tls = self.served(store)
        primary = store.primary_domain
        if primary is not None and primary.name in tls:
            return self.url(primary.name)
        current = urlsplit(store.url or "").hostname
        if current in tls:
            return self.url(str(current))
        return platform_url

    def forget_unrouted(self, store: StoreSnapshot) -> list[str]:
        """The TLS Secrets of domains the store no longer has are deleted."""
        ns = self.names.namespace(store)
        routed = {tls_secret(d.name) for d in store.domains if d.routed}
        try:
            secrets = self.cluster.core.list_namespaced_secret(ns).items
        except ApiException as exc:
            raise api_error(f"listing Secrets of {ns}", exc) from exc
        gone = []
        for secret in secrets:
            name = secret.metadata.name
            if (
                name.startswith("tls-")
                and secret.type == "kubernetes.io/tls"
                and name not in routed
            ):
                self.cluster.core.delete_namespaced_secret(name, ns)
                gone.append(name.removeprefix("tls-"))
        return gone

    # -- certificates --------------------------------------------------------------

    def install_certificate(
        self, store: StoreSnapshot, domain: str, chain: bytes, key: bytes
    ) -> None:
        ns = self.names.namespace(store)
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=tls_secret(domain), labels=self.names.labels(store)
            ),
            type="kubernetes.io/tls",
            data={"tls.crt": base64.b64encode(chain).decode(),
                  "tls.key": base64.b64encode(key).decode()},
        )  # fmt: skip
        try:
            self.cluster.core.replace_namespaced_secret(tls_secret(domain), ns, body)
        except ApiException as exc:
            if exc.status != 404:
                raise api_error(f"writing Secret {ns}/{tls_secret(domain)}", exc) from exc
            try:
                self.cluster.core.create_namespaced_secret(ns, body)
            except ApiException as exc2:
                raise api_error(f"creating Secret {ns}/{tls_secret(domain)}", exc2) from exc2

    # -- ACME challenges, and the platform name's redirect ------------------------------

    def _put_plugin(self, ctx: StepContext) -> None:
        plugin = (MU_PLUGINS / _PLUGIN).read_bytes()
        plugins = f"{CONTENT}/mu-plugins"
        self.pods.run(
            ctx,
            ["sh", "-c", f"mkdir -p {plugins} && base64 -d > {plugins}/{_PLUGIN}"],
            stdin=base64.b64encode(plugin),
        )

    def redirect(self, ctx: StepContext, own_host: str | None) -> str:
        """The store's platform name leads to its address (a 301 to the same
        path, by the must-use plugin) while that is a custom domain: WordPress's
        canonical redirect changes no host."""
        current = urlsplit(ctx.store.url or "").hostname
        if own_host is None or current is None or current == own_host:
            self.pods.run(ctx, ["rm", "-f", f"{_ANSWERS}/redirect.json"])
            return "no redirect"
        to = str(ctx.store.url).rstrip("/")
        self._put_plugin(ctx)
        body = json.dumps({"from": own_host, "to": to}).encode()
        self.pods.run(
            ctx,
            ["sh", "-c", f"mkdir -p {_ANSWERS} && base64 -d > {_ANSWERS}/redirect.json"],
            stdin=base64.b64encode(body),
        )
        return f"{own_host} redirects to {to}"

    def publish_challenge(self, ctx: StepContext, domain: str, token: str, answer: str) -> None:
        """The answer in the store's wp-content, and the must-use plugin that
        serves it; checked through the ingress as the ACME server will ask."""
        if not _TOKEN.fullmatch(token):
            raise PermanentError(f"the ACME server sent a malformed token {token[:60]!r}")
        self._put_plugin(ctx)
        self.pods.run(
            ctx,
            ["sh", "-c", f"mkdir -p {_ANSWERS} && base64 -d > {_ANSWERS}/{token}"],
            stdin=base64.b64encode(answer.encode()),
        )
        self._check(ctx, domain, token, answer)

    def _check(self, ctx: StepContext, domain: str, token: str, answer: str) -> None:
        path = f"/.well-known/acme-challenge/{token}"
        if self.cluster.in_cluster:
            url = f"http://store.{self.names.namespace(ctx.store)}.svc.cluster.local{path}"
            headers = {"Host": domain}
        else:
            # Where the ingress answers the store's own name (this machine for
            # *.localhost), asked for the domain over plain http.
            platform = self.names.ingress_url(ctx.store) or ""
            base, _ = storefront_request(platform)
            parts = urlsplit(base)
            port = self.settings.k8s_store_url_port or 80
            url = f"http://{parts.hostname}:{port}{path}"
            headers = {"Host": domain}
        seconds = min(60.0, max(1.0, ctx.remaining()))
        seen = wait_for_answer(url, headers, answer, seconds=seconds, every=0.5, timeout=10)
        if not seen:
            return
        raise TransientError(
            f"the challenge of {domain} is not answered through the ingress ({url}: {seen})"
        )

    def withdraw_challenge(self, ctx: StepContext, token: str) -> None:
        if not _TOKEN.fullmatch(token):
            return
        self.pods.exec(ctx, ["rm", "-f", f"{_ANSWERS}/{token}"])
