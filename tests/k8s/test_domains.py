"""Acceptance (a) of custom domains on Kubernetes, on the test environment's
real node: a store gets ``shop.example.test`` → its TXT proof (on pebble's
mock DNS server) → a certificate from Let's Encrypt's test ACME server,
pebble, which validates the HTTP-01 challenge through Traefik's port 30080
→ the certificate in the store's ``tls-shop.example.test`` Secret, served
by Traefik on 30443 → a shopper's order in Chromium (trusting pebble's root)
at ``https://shop.example.test:30443/``; the old address redirects there. A
domain whose challenge cannot pass leaves the store at its own address,
with the reason shown.

The worker issues the certificate itself (the same ACME client as the local
driver's): cert-manager is the operator's choice in production
(docs/deploy.md), not built here (docs/domains.md says why).
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.conftest import not_here
from tests.domains import order_at, trusting_home
from tests.k8s.conftest import Cluster
from tests.k8s.platforms import ClusterPlatform, platform_on_cluster
from tests.k8s.realstores import INGRESS_PORT
from tests.k8s.test_stores import READY, _on_the_real_node
from tests.pebble import Pebble
from tests.support import Api

pytestmark = pytest.mark.timeout(2400)
HTTPS_PORT = 30443
DOMAIN = "shop.example.test"
BROKEN = "nowhere.example.test"


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    # Names have only the A records a test gives them (BROKEN has none).
    server = Pebble(
        tmp_path_factory.mktemp("pebble"), http_port=INGRESS_PORT, tls_port=HTTPS_PORT,
        default_ipv4="",
    )  # fmt: skip
    yield server
    server.stop()


@pytest.fixture(scope="module")
def platform(
    k8s: Cluster, acme: Pebble, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterPlatform]:
    if not k8s.simulated:
        not_here("needs the test environment's real node and the images of `make images`")
    recipe = _on_the_real_node()
    recipe = dataclasses.replace(
        recipe,
        name="dm",
        env={
            **recipe.env,
            "STOREFLEET_DNS_RESOLVER": acme.resolver,
            "STOREFLEET_ACME_DIRECTORY": acme.directory,
            "STOREFLEET_ACME_CA_BUNDLE": str(acme.ca_bundle),
            "STOREFLEET_K8S_STORE_HTTPS_PORT": str(HTTPS_PORT),
            "STOREFLEET_DOMAIN_CHECK_SECONDS": "1",
        },
    )
    with platform_on_cluster(k8s, tmp_path_factory.mktemp("domains"), recipe) as p:
        yield p


def _domain(api: Api, store_id: int, name: str) -> dict[str, Any]:
    rows = api.http.get(f"/api/stores/{store_id}/domains").json()
    return next(d for d in rows if d["domain"] == name)


def _wait_domain(
    api: Api, store_id: int, name: str, status: str, timeout: float = 600
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = _domain(api, store_id, name)
        if d["status"] == status:
            return d
        assert time.monotonic() < deadline, f"{name} is {d['status']}, not {status}: {d}"
        time.sleep(1)


def _wait_idle(api: Api, store_id: int, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        busy = [o for o in api.operations(store_id) if o["status"] in ("pending", "running")]
        if not busy:
            done = api.operations(store_id)[0]
            assert done["status"] == "succeeded", done
            return api.store(store_id)
        assert time.monotonic() < deadline, f"still busy: {busy[0]}"
        time.sleep(1)


def test_a_kubernetes_store_moves_to_its_custom_domain_with_a_certificate_from_pebble(
    platform: ClusterPlatform, acme: Pebble, tmp_path: Path
) -> None:
    k8s, api = platform.cluster, platform.admin()
    password = "Dom-" + secrets.token_urlsafe(10)
    created = api.create_store("domk", admin_password=password)
    assert created.status_code == 202, created.text
    store_id = created.json()["id"]
    store = api.wait_for(store_id, "ready", timeout=READY)
    own = f"http://domk.localhost:{INGRESS_PORT}/"
    assert store["url"] == own
    ns = platform.store_ns("domk")

    # A domain whose challenge cannot pass (its name has no address).
    broken = api.http.post(f"/api/stores/{store_id}/domains", json={"domain": BROKEN}).json()
    acme.set_txt(broken["verification"]["name"], broken["verification"]["value"])
    failed = _wait_domain(api, store_id, BROKEN, "failed")
    assert "could not validate" in failed["failure_reason"], failed
    store = _wait_idle(api, store_id)
    assert store["url"] == own and store["status"] == "ready"
    assert httpx.get(own, timeout=60).status_code == 200

    # shop.example.test: proof, certificate through Traefik, address moved.
    acme.dns("add-a", host=DOMAIN + ".", addresses=["127.0.0.1"])
    added = api.http.post(
        f"/api/stores/{store_id}/domains", json={"domain": DOMAIN, "primary": True}
    ).json()
    acme.set_txt(added["verification"]["name"], added["verification"]["value"])
    active = _wait_domain(api, store_id, DOMAIN, "active")
    url = f"https://{DOMAIN}:{HTTPS_PORT}/"
    assert active["url"] == url
    store = _wait_idle(api, store_id)
    assert store["url"] == url, store
    secret = client.CoreV1Api(k8s.api).read_namespaced_secret(f"tls-{DOMAIN}", ns)
    assert secret.type == "kubernetes.io/tls"
    assert b"BEGIN CERTIFICATE" in base64.b64decode(secret.data["tls.crt"])
    tls = client.NetworkingV1Api(k8s.api).read_namespaced_ingress("store-domains-tls", ns)
    assert [t.secret_name for t in tls.spec.tls] == [f"tls-{DOMAIN}"]

    # curl trusts pebble's root and nothing else; Traefik serves the certificate.
    done = subprocess.run(
        ["curl", "-sS", "--cacert", str(acme.root), "--resolve", f"{DOMAIN}:{HTTPS_PORT}:127.0.0.1",
         "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}", url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout == "200 0", (done.stdout, done.stderr)
    # The old address leads there (the platform's must-use plugin), path kept.
    old = httpx.get(own + "product/beanie/", timeout=60)
    assert old.status_code == 301, old.status_code
    assert old.headers["location"].startswith(f"https://{DOMAIN}:{HTTPS_PORT}/product/beanie")

    home = trusting_home(acme.root, tmp_path / "browser-home")
    order = order_at(
        url.rstrip("/"), "domk", password, host_rules=f"MAP {DOMAIN} 127.0.0.1", home=home
    )
    assert (order["status"], order["payment_method"]) == ("processing", "cod")
