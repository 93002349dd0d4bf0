"""Helpers of the tests whose stores run for real on the test node: a
shopper's order in Chromium (frontend/e2e/k8s-order.mjs, the same steps as the
local driver's browser test), commands in a store's pod, and what a store
leaves in the cluster and on the stores' MySQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import not_here
from tests.k8s.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
#: Where the test node's Traefik answers (tools/k8s-testenv/lib.sh).
INGRESS_PORT = 30080


def needs_a_browser() -> None:
    """Chromium and playwright-core (make frontend) must be there; else the
    test is skipped loudly, or fails under CI=true."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        missing.append("frontend/node_modules (make frontend)")
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        message = f"no browser for the order: {', '.join(missing)}"
        not_here(message)


def namespace_state(core: client.CoreV1Api, namespace: str) -> str:
    """A namespace's pods and recent events, for a failure's message."""
    lines = []
    for pod in core.list_namespaced_pod(namespace).items:
        statuses = [
            f"{c.name} ready={c.ready} restarts={c.restart_count} state={c.state}"
            for c in (pod.status.container_statuses or [])
        ]
        lines.append(f"pod {pod.metadata.name}: {pod.status.phase} {statuses}")
    for ev in core.list_namespaced_event(namespace).items[-15:]:
        lines.append(f"event {ev.involved_object.name}: {ev.reason}: {ev.message}")
    return "\n".join(lines)


def order_in_chromium(
    url: str,
    store_name: str,
    admin_password: str,
    *,
    k8s: Cluster | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A guest buys a product with Cash on Delivery in Chromium; the order as
    the store admin reads it through WooCommerce's REST API. A failure shows
    the store namespace's pods and events when given."""
    needs_a_browser()
    started = time.monotonic()
    done = subprocess.run(
        ["node", str(FRONTEND / "e2e" / "k8s-order.mjs"), url, store_name],
        cwd=FRONTEND,
        env={**os.environ, "STOREFLEET_STORE_ADMIN_PASSWORD": admin_password},
        capture_output=True,
        text=True,
        timeout=420,
    )
    if done.returncode != 0:
        state = ""
        if k8s is not None and namespace is not None:
            state = namespace_state(client.CoreV1Api(k8s.api), namespace)
        raise AssertionError(
            f"the order in {url} failed:\n{done.stdout}\n{done.stderr}\n{namespace} now:\n{state}"
        )
    order: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"order {order['id']} in {url}: {time.monotonic() - started:.0f} s in Chromium")
    return order


def web_pod(k8s: Cluster, namespace: str) -> client.V1Pod:
    pods = client.CoreV1Api(k8s.api).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=web"
    )
    running = [p for p in pods.items if p.status.phase == "Running"]
    assert len(running) == 1, [(p.metadata.name, p.status.phase) for p in pods.items]
    return running[0]


def php_in_store(k8s: Cluster, namespace: str, code: str, timeout: float = 60) -> tuple[int, str]:
    """Run PHP in the store's web container (its own environment: the
    database settings of store-config and store-credentials)."""
    pod = web_pod(k8s, namespace)
    done = k8s.run(
        "kubectl", "exec", "--namespace", namespace, pod.metadata.name, "-c", "wordpress", "--",
        "php", "-r", code, check=False, timeout=timeout,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def connects(k8s: Cluster, namespace: str, host: str, port: int, seconds: int = 3) -> bool:
    """Whether the store's pod opens a TCP connection to host:port."""
    code, _ = php_in_store(
        k8s, namespace,
        f'exit(@fsockopen("{host}", {port}, $errno, $errstr, {seconds}) ? 0 : 1);',
    )  # fmt: skip
    return code == 0


def wp_option(k8s: Cluster, namespace: str, name: str, value: str | None = None) -> str:
    """Read (or set, as a merchant would in wp-admin) a WordPress option."""
    setter = f"update_option('{name}', '{value}');" if value is not None else ""
    code, out = php_in_store(
        k8s, namespace,
        "define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST'] = 'localhost';"
        " require '/var/www/html/wp-load.php';"
        f" {setter} echo 'OPTION=' . get_option('{name}');",
    )  # fmt: skip
    assert code == 0, out
    return out.rsplit("OPTION=", 1)[1].strip()


def published_products(k8s: Cluster, namespace: str) -> int:
    code, out = php_in_store(
        k8s, namespace,
        "define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST'] = 'localhost';"
        " require '/var/www/html/wp-load.php';"
        " echo 'PRODUCTS=' . count(wc_get_products(['status' => 'publish', 'limit' => -1,"
        " 'return' => 'ids']));",
    )  # fmt: skip
    assert code == 0, out
    return int(out.rsplit("PRODUCTS=", 1)[1].strip())


def exists(call: Any, *args: Any) -> bool:
    try:
        call(*args)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def volumes_of(k8s: Cluster, namespace: str) -> list[str]:
    """PersistentVolumes bound to claims of ``namespace``."""
    return [
        pv.metadata.name
        for pv in client.CoreV1Api(k8s.api).list_persistent_volume().items
        if pv.spec.claim_ref and pv.spec.claim_ref.namespace == namespace
    ]


def wait_gone(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while check():
        assert time.monotonic() < deadline, f"{what} is still there after {timeout:.0f} s"
        time.sleep(1)
