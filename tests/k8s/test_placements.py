"""The two ways to run the platform with Kubernetes stores, each on the real
node from a newcomer's command, each ending in a shopper's order in Chromium:

- outside the cluster: ``STOREFLEET_DRIVER=kubernetes make up`` against
  ``make k8s-up`` (README) — the stores' MariaDB a pod of the cluster;
- inside: ``make deploy`` (deploy.sh) with the images of ``make images`` —
  API x2, workers x3, the migration before the API serves, MariaDB x2, Redis —
  provisioning stores from inside the cluster; and what a store's pod may
  reach of the platform's.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from tests.conftest import free_port, not_here
from tests.k8s.conftest import TESTENV_VAR, Cluster, pod_log
from tests.k8s.realstores import (
    INGRESS_PORT,
    connects,
    exists,
    order_in_chromium,
    php_in_store,
    volumes_of,
    wait_gone,
    web_pod,
)
from tests.support import Api, database_state

REPO = Path(__file__).resolve().parents[2]
# Stores install for real here, several minutes each on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(2400)
READY = 600


@pytest.fixture
def real_node(k8s: Cluster) -> Cluster:
    if not k8s.simulated:
        not_here("needs the test environment's real node (make k8s-up) and its images")
    return k8s


def _step(store: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in store["steps"] if s["name"] == name and s["operation"] == "provision")


# -- outside the cluster: STOREFLEET_DRIVER=kubernetes make up ------------------------

#: Not "storefleet", which `make deploy`'s release owns (scripts/k8s-platform.sh).
UP_NAMESPACE = "storefleet-dev"


@pytest.fixture
def make_up(real_node: Cluster, tmp_path: Path) -> Iterator[tuple[Api, dict[str, str]]]:
    port = free_port()
    password = "Make-up-" + secrets.token_urlsafe(12)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STOREFLEET_", "KUBECONFIG")) or k == "STOREFLEET_ARTIFACTS"
    }
    env.update(
        STOREFLEET_DRIVER="kubernetes",
        STOREFLEET_PORT=str(port),
        STOREFLEET_ADMIN_PASSWORD=password,
        STOREFLEET_LEASE_SECONDS="10",
        STOREFLEET_STEP_DEADLINE_SECONDS="600",
        STOREFLEET_OPERATION_DEADLINE_SECONDS="1800",
    )
    log = tmp_path / "make-up.log"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "up"],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while "StoreFleet is running" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        settings = dict(
            line.split("=", 1)
            for line in (TESTENV_VAR / "storefleet.env").read_text().splitlines()
            if "=" in line
        )
        yield Api.login(f"http://127.0.0.1:{port}", "admin@example.com", password), settings
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
        text = log.read_text(errors="replace")
        print(text[-1500:])
        assert code in (0, -signal.SIGINT, 130), text[-3000:]
        assert "Traceback" not in text, text[-3000:]


def test_make_up_with_the_kubernetes_driver_sells_and_deletes_a_store(real_node, make_up):
    api, settings = make_up
    k8s = real_node
    core = client.CoreV1Api(k8s.api)
    name = f"up-{uuid.uuid4().hex[:6]}"
    password = "Up-" + secrets.token_urlsafe(10)
    started = time.monotonic()
    resp = api.create_store(name, admin_password=password)
    assert resp.status_code == 202, resp.text
    store_id = resp.json()["id"]
    store = api.wait_for(store_id, "ready", timeout=READY)
    print(f"make up (kubernetes): {name} ready {time.monotonic() - started:.0f} s after the POST")
    assert store["url"] == f"http://{name}.localhost:{INGRESS_PORT}/"
    verify = _step(store, "verify")
    assert verify["status"] == "succeeded" and f"Host {name}.localhost" in verify["message"]
    # The platform namespace was made for it; the stores' MariaDB is a pod there.
    assert (
        core.read_namespace(UP_NAMESPACE).metadata.labels["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    db_pods = core.list_namespaced_pod(
        UP_NAMESPACE, label_selector="app.kubernetes.io/component=stores-mysql"
    ).items
    assert [p.status.phase for p in db_pods] == ["Running"]

    order = order_in_chromium(store["url"], name, password, k8s=k8s, namespace=f"store-{name}")
    assert order["status"] == "processing" and order["payment_method"] == "cod"
    # README: `storefleet stores smoke-test NAME` — at its *.localhost address,
    # which this machine's C library does not resolve (the CLI reaches it on
    # 127.0.0.1 with its Host, as browsers and curl do).
    assert store["driver"] == "kubernetes"
    token = api.http.headers["Authorization"].split()[1]
    smoke = subprocess.run(
        [sys.executable, "-m", "storefleet", "stores", "smoke-test", name],
        env={**os.environ, "STOREFLEET_API_URL": api.base_url, "STOREFLEET_TOKEN": token,
             "STOREFLEET_STORE_ADMIN_PASSWORD": password},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "placed and confirmed: processing, cod" in smoke.stdout

    ns, uid = f"store-{name}", store["uid"]
    volumes = volumes_of(k8s, ns)
    db_url, db_name = settings["STOREFLEET_STORES_DB_URL"], f"store_{uid}"
    assert database_state(db_url, db_name) == (1, 1) and len(volumes) == 1
    assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
    api.wait_for(store_id, "deleted", timeout=300)
    assert not exists(core.read_namespace, ns)
    wait_gone(lambda: exists(core.read_persistent_volume, volumes[0]), f"volume {volumes[0]}")
    assert database_state(db_url, db_name) == (0, 0)
    assert not exists(core.read_namespaced_secret, f"store-{uid}-credentials", UP_NAMESPACE)


# -- inside the cluster: make deploy --------------------------------------------------------


@pytest.fixture
def deployed(real_node: Cluster, tmp_path: Path) -> Iterator[dict[str, Any]]:
    k8s = real_node
    suffix = uuid.uuid4().hex[:6]
    namespace, release, prefix = f"sfdeploy-{suffix}", f"dp{suffix}", f"d{suffix}-"
    extra = tmp_path / "values.yaml"
    extra.write_text(yaml.safe_dump({"rbac": {"storeNamespacePrefix": prefix}}))
    env = {
        **{k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        "KUBECONFIG": str(k8s.kubeconfig),
        "PATH": f"{TESTENV_VAR / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "STOREFLEET_NAMESPACE": namespace,
        "STOREFLEET_RELEASE": release,
        "HELM_CONFIG_HOME": str(k8s.helm_home / "config"),
        "HELM_CACHE_HOME": str(k8s.helm_home / "cache"),
        "HELM_DATA_HOME": str(k8s.helm_home / "data"),
    }
    started = time.monotonic()
    done = subprocess.run(
        ["make", "--no-print-directory", "deploy", f"DEPLOY_ARGS=--values {extra} --timeout 15m"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        print(f"make deploy: {time.monotonic() - started:.0f} s\n{done.stdout[-800:]}")
        yield {"namespace": namespace, "release": release, "prefix": prefix, "out": done.stdout}
    finally:
        subprocess.run(
            ["./deploy.sh", "--uninstall", "--purge-stores"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip


def test_make_deploy_runs_the_platform_on_the_node_and_it_provisions_a_store(real_node, deployed):
    k8s = real_node
    core, batch = client.CoreV1Api(k8s.api), client.BatchV1Api(k8s.api)
    ns, release = deployed["namespace"], deployed["release"]
    pods = core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/instance={release}")
    ready: dict[str, int] = {}
    for pod in pods.items:
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            component = pod.metadata.labels["app.kubernetes.io/component"]
            ready[component] = ready.get(component, 0) + 1
            assert pod.spec.node_name == "storefleet-node"
    assert ready == {"api": 2, "worker": 3, "mysql": 1, "stores-mysql": 1, "redis": 1}, ready

    # The migration ran before the API served: every API and worker pod's
    # init container waited until the schema was at this release's head (the
    # MariaDB starts after them, so they saw it missing first), and the
    # container started after the migration did.
    (job,) = batch.list_namespaced_job(
        ns, label_selector="app.kubernetes.io/component=migrate"
    ).items
    assert job.status.succeeded == 1
    job_pods = core.list_namespaced_pod(ns, label_selector=f"job-name={job.metadata.name}")
    (migrate,) = [p for p in job_pods.items if p.status.phase == "Succeeded"]
    migrated_from = migrate.status.container_statuses[0].state.terminated.started_at
    waited = 0
    for pod in pods.items:
        if pod.metadata.labels["app.kubernetes.io/component"] in ("api", "worker"):
            (init,) = pod.status.init_container_statuses
            assert init.name == "wait-for-schema" and init.state.terminated.exit_code == 0
            log = pod_log(core, pod.metadata.name, ns, container="wait-for-schema")
            assert "database schema is current" in log, log
            waited += "waiting for the migration" in log
            running = pod.status.container_statuses[0].state.running
            assert running.started_at >= migrated_from
    assert waited, "no API or worker pod had to wait for the migration"

    # The dashboard from this machine, and the admin's sign-in.
    port = core.read_namespaced_service(f"{release}-api", ns).spec.ports[0].node_port
    base = f"http://127.0.0.1:{port}"
    assert f"localhost:{port}" in deployed["out"]
    page = httpx.get(base + "/", timeout=10)
    assert page.status_code == 200 and '<div id="root">' in page.text
    admin_password = base64.b64decode(
        core.read_namespaced_secret(release, ns).data["admin-password"]
    ).decode()
    api = Api.login(base, "admin@example.com", admin_password)

    # A store, provisioned by the workers in the cluster, verified through its
    # Service with its Host, and an order in Chromium.
    name, password = "inside", "Inside-" + secrets.token_urlsafe(10)
    started = time.monotonic()
    resp = api.create_store(name, admin_password=password)
    assert resp.status_code == 202, resp.text
    store = api.wait_for(resp.json()["id"], "ready", timeout=READY)
    print(f"make deploy: store ready {time.monotonic() - started:.0f} s after the POST")
    verify = _step(store, "verify")
    assert verify["status"] == "succeeded", verify
    assert f"store.{deployed['prefix']}{name}.svc.cluster.local" in verify["message"]
    assert f"Host {name}.localhost:{INGRESS_PORT}" in verify["message"]
    order = order_in_chromium(
        store["url"], name, password, k8s=k8s, namespace=f"{deployed['prefix']}{name}"
    )
    assert order["status"] == "processing"
    # The chart's API records its stores as the workers' driver's: the
    # reconciler checks the health of those only.
    assert store["driver"] == "kubernetes"

    # b: the store's pod reaches DNS and its own database, none of the
    # platform's other pods.
    store_ns = f"{deployed['prefix']}{name}"
    code, out = php_in_store(
        k8s, store_ns, "echo gethostbyname('kubernetes.default.svc.cluster.local');"
    )
    assert code == 0 and out.strip() == "10.96.0.1", out
    by_component = {p.metadata.labels["app.kubernetes.io/component"]: p for p in pods.items}
    stores_db = by_component["stores-mysql"].status.pod_ip
    assert connects(k8s, store_ns, stores_db, 3306), "the store cannot reach its database server"
    for component, target_port in (("api", 8000), ("mysql", 3306), ("redis", 6379)):
        ip = by_component[component].status.pod_ip
        assert not connects(k8s, store_ns, ip, target_port), f"the store reached the {component}"
    assert web_pod(k8s, store_ns).spec.node_name == "storefleet-node"

    assert api.http.delete(f"/api/stores/{store['id']}").status_code == 202
    api.wait_for(store["id"], "deleted", timeout=300)
    assert not exists(core.read_namespace, store_ns)
