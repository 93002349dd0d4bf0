"""Kubernetes stores that really run and take orders (issue 10), on the test
environment's real node: the platform's API and worker run as processes on
this machine with the worker ServiceAccount's token (not admin rights) and
charts/storefleet's RBAC and admission policy; the stores' MariaDB is a pod
of that release; every store is its chart on the node, behind Traefik at
http://<name>.localhost:30080/.

- a store is ready with verify run through the ingress with its Host, and a
  shopper's order in Chromium is there through the REST API as the admin;
- NetworkPolicy: a store reaches DNS and its own database, not another store,
  not a pod on 443 inside the cluster;
- a SIGKILLed worker during the install, and a helm killed mid-release;
- a failed install, retried; a chart upgrade with a new image tag;
- deletion leaves no namespace, volume, database, user or Secret;
- issue 18: a backup to S3 restored from there; the store's image pulled
  again from the test registry once the node lost it; a local platform's
  store moved here and back (export, import);
- issue 19: a PHP warning in a store is in its logs (``GET /api/stores/{id}/logs``,
  read by the worker) within 10 s, not in another store's, and its access-log
  line has no token or cookie.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from kubernetes import client

from storefleet import plans, smoke
from tests.conftest import not_here
from tests.e2e import conftest as e2e
from tests.e2e.test_moves import _shop_state, cli, make_shop
from tests.k8s import benchmark
from tests.k8s.conftest import REGISTRY_LOG, TEST_REGISTRY, TESTENV_VAR, Cluster
from tests.k8s.platforms import ClusterPlatform, Recipe, platform_on_cluster
from tests.k8s.realstores import (
    INGRESS_PORT,
    connects,
    exists,
    namespace_state,
    order_in_chromium,
    php_in_store,
    published_products,
    volumes_of,
    wait_gone,
    web_pod,
    wp_option,
)
from tests.k8s.storepod import (
    OPCACHE_PROBE,
    TIMING_PLUGIN,
    UNCACHED,
    cgroup_memory_limit,
    concurrent_times,
    container_resources,
    file_in_store,
    fpm_setting,
    opcache,
    page_times,
    probe_name,
    processes,
    through_ingress,
    timing_marks,
    working_set,
)
from tests.support import ADMIN_EMAIL, Api, database_state

REPO = Path(__file__).resolve().parents[2]
# A one-machine platform beside the cluster's (issue 18: stores moved between them).
local_platform_factory = e2e.local_platform_factory
php_and_releases = e2e.php_and_releases
# Stores install for real here, several minutes each on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(2400)
STORE_CHART = REPO / "charts" / "woocommerce-store"
READY = 600  # seconds: a store's first install on a loaded 2-core machine


def _stores_mysql(core: client.CoreV1Api, namespace: str, release: str) -> str:
    """The stores' MariaDB of the platform chart, reached from this machine's
    platform through a node port on 127.0.0.1 (store pods use its Service)."""
    selector = {
        "app.kubernetes.io/name": "storefleet",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "stores-mysql",
    }
    host_service = core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="stores-mysql-host"),
            spec=client.V1ServiceSpec(
                type="NodePort",
                selector=selector,
                ports=[client.V1ServicePort(port=3306, target_port=3306)],
            ),
        ),
    )
    password = base64.b64decode(
        core.read_namespaced_secret(release, namespace).data["stores-mysql-root-password"]
    ).decode()
    url = f"mysql+pymysql://root:{password}@127.0.0.1:{host_service.spec.ports[0].node_port}/"
    _wait_for_mysql(url, lambda: namespace_state(core, namespace))
    return url


def _on_the_real_node() -> Recipe:
    return Recipe(
        name="st",
        namespace_labels={"pod-security.kubernetes.io/enforce": "restricted"},
        # The platform chart for its RBAC, admission policy and the stores'
        # MariaDB; its API and workers are this machine's processes.
        chart_overrides={
            "api": {"replicas": 0, "pdb": {"enabled": False}},
            "worker": {"replicas": 0, "pdb": {"enabled": False}},
            "migrate": {"enabled": False},
            "mysql": {"enabled": False},
            "externalDatabase": {"existingSecret": "unused"},
            "redis": {"enabled": False},
            "externalRedis": {"existingSecret": "unused"},
        },
        stores_db=_stores_mysql,
        timings={"lease_seconds": 10, "requeue_after_seconds": 5,
                 "reconcile_interval_seconds": 2, "step_deadline_seconds": 600},
        env={
            "STOREFLEET_K8S_STORE_URL_PORT": str(INGRESS_PORT),
            "STOREFLEET_OPERATION_DEADLINE_SECONDS": "1800",
            # Day 2: health checks often and soon degraded; no scheduled backups.
            "STOREFLEET_HEALTH_INTERVAL_SECONDS": "5",
            "STOREFLEET_HEALTH_FAILURES_BEFORE_DEGRADED": "2",
            "STOREFLEET_BACKUP_TARGET": "dir",
            "STOREFLEET_BACKUP_SCHEDULE_HOURS": "0",
        },
        in_cluster_stores_db=True,
        # The worker waits while the stores' MariaDB is not up (its
        # STOREFLEET_WORKER_STARTUP_WAIT_SECONDS, 300 s).
        worker_wait=330,
    )  # fmt: skip


@pytest.fixture(scope="module")
def real(k8s: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterPlatform]:
    if not k8s.simulated:
        not_here("needs the test environment's real node and the images of `make images`")
    tmp = tmp_path_factory.mktemp("real-stores")
    try:
        with platform_on_cluster(k8s, tmp, _on_the_real_node()) as platform:
            yield platform
    except AssertionError as exc:  # a platform that did not start: say what the node saw
        pytest.fail(f"{exc}\n{_platform_state(k8s)}", pytrace=False)


def _platform_state(k8s: Cluster) -> str:
    core = client.CoreV1Api(k8s.api)
    spaces = core.list_namespace(label_selector="storefleet.dev/test=true").items
    return "\n".join(namespace_state(core, ns.metadata.name) for ns in spaces)


def _wait_for_mysql(url: str, describe: Callable[[], str], timeout: float = 420) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                pytest.fail(f"the stores' MariaDB did not answer: {exc}\n{describe()}")
            time.sleep(2)
        finally:
            engine.dispose()


def _create(p: ClusterPlatform, name: str, password: str, **body: Any) -> int:
    resp = p.admin().create_store(name, admin_password=password, **body)
    assert resp.status_code == 202, resp.text
    return int(resp.json()["id"])


def _step(store: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in store["steps"] if s["name"] == name and s["operation"] == "provision")


def _install_pods(k8s: Cluster, ns: str) -> list[client.V1Pod]:
    return list(
        client.CoreV1Api(k8s.api)
        .list_namespaced_pod(ns, label_selector="app.kubernetes.io/component=install")
        .items
    )


def _helm_history(k8s: Cluster, ns: str) -> list[dict[str, Any]]:
    out = k8s.run("helm", "history", "store", "--namespace", ns, "--output", "json").stdout
    return list(json.loads(out))


# -- a: ready, verified through the ingress, and an order in Chromium ------------


@pytest.fixture(scope="module")
def shop(real: ClusterPlatform) -> dict[str, Any]:
    """One store made through the API, ready (the tests below share it)."""
    password = "Shop-" + secrets.token_urlsafe(10)
    store_id = _create(real, "shop", password)
    started = time.monotonic()
    store = real.admin().wait_for(store_id, "ready", timeout=READY)
    print(f"store shop: POST to ready in {time.monotonic() - started:.0f} s")
    return {"id": store_id, "password": password, "store": store}


def test_a_store_is_ready_verified_through_the_ingress_and_takes_an_order(real, shop):
    k8s, store = real.cluster, shop["store"]
    ns = real.store_ns("shop")
    assert store["url"] == f"http://shop.localhost:{INGRESS_PORT}/"
    verify = _step(store, "verify")
    assert verify["status"] == "succeeded", verify
    assert "Host shop.localhost:30080" in verify["message"], verify["message"]
    assert "answers with the title" in verify["message"]

    core, apps = client.CoreV1Api(k8s.api), client.AppsV1Api(k8s.api)
    labels = core.read_namespace(ns).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["storefleet.io/store-uid"] == store["uid"]
    pod = web_pod(k8s, ns)
    assert pod.spec.node_name == "storefleet-node"
    # The probes carry the store's Host: no redirect, no ProbeWarning.
    probe = apps.read_namespaced_deployment("store", ns).spec.template.spec.containers[0]
    headers = {h.name: h.value for h in probe.readiness_probe.http_get.http_headers}
    assert headers == {"Host": f"shop.localhost:{INGRESS_PORT}"}
    # (Before the install, WordPress redirects every page to its installer:
    # the kubelet notes that once; never once the store is installed.)
    (job,) = client.BatchV1Api(k8s.api).list_namespaced_job(ns).items
    installed = job.status.completion_time
    warnings = core.list_namespaced_event(ns, field_selector="type=Warning").items
    late = [
        e.message for e in warnings
        if e.reason == "ProbeWarning" and (e.last_timestamp or e.event_time) > installed
    ]  # fmt: skip
    assert not late, late
    # Sized by the plan (small: 512 MiB): 5 php-fpm workers, PHP 176M, 5Gi volume.
    env = {e: v for e, v in _pod_env(k8s, ns).items() if e.startswith(("APACHE", "STOREFLEET_P"))}
    assert env == {"STOREFLEET_PHP_WORKERS": "5", "STOREFLEET_PHP_MEMORY_LIMIT": "176M"}, env
    assert fpm_setting(k8s, ns, "pm.max_children") == "5"
    assert fpm_setting(k8s, ns, "pm") == "ondemand"
    # nginx in front of php-fpm, as the pod's one container runs them.
    running = processes(k8s, ns)
    assert sum(p.startswith("nginx: master process") for p in running) == 1, running
    assert sum(p.startswith("php-fpm: master process") for p in running) == 1, running
    assert not [p for p in running if "apache" in p], running
    claim = core.read_namespaced_persistent_volume_claim("store-data", ns)
    assert claim.spec.resources.requests["storage"] == "5Gi" and claim.status.phase == "Bound"
    quota = core.read_namespaced_resource_quota("store-quota", ns).spec.hard
    assert (
        quota["requests.ephemeral-storage"] == "1Gi" and quota["limits.ephemeral-storage"] == "3Gi"
    )
    # One install Job, run once; the admin password Secret is gone.
    assert [p.status.phase for p in _install_pods(k8s, ns)] == ["Succeeded"]
    assert not exists(core.read_namespaced_secret, "store-admin", ns)
    assert published_products(k8s, ns) == 12

    # The shopper's pages came through Traefik from the pod's page cache as
    # they do locally: the first page a HIT on its second view, cart and
    # checkout BYPASS (k8s-order.mjs asserts it, as the local browser test).
    order = order_in_chromium(store["url"], "shop", shop["password"], k8s=k8s, namespace=ns)
    assert order["status"] == "processing" and order["payment_method"] == "cod"
    assert "GET / 200 HIT" in order["pages"], order["pages"]
    assert [p for p in order["pages"] if "/checkout" in p and p.endswith(" BYPASS")], order["pages"]

    # TLS ends at the ingress, which says so in X-Forwarded-Proto: the image's
    # wp-config.php believes it, so WordPress sees the visitor's https (here,
    # in the address wp-admin sends a signed-out visitor back to).
    admin, host = f"http://{pod.status.pod_ip}:8080/wp-admin/", f"shop.localhost:{INGRESS_PORT}"
    for proto in ("http", "https"):
        answer = httpx.get(admin, headers={"Host": host, "X-Forwarded-Proto": proto}, timeout=30)
        assert answer.status_code == 302, answer.status_code
        back = parse_qs(urlsplit(answer.headers["location"]).query)["redirect_to"]
        assert back == [f"{proto}://{host}/wp-admin/"], answer.headers["location"]


def _pod_env(k8s: Cluster, ns: str) -> dict[str, str]:
    code, out = php_in_store(k8s, ns, "echo json_encode(getenv());")
    assert code == 0, out
    values: dict[str, str] = json.loads(out[out.index("{") :])
    return values


# -- issue 17: the pod's nginx + php-fpm, opcache, the page cache; what a pod costs -----


def _image_epoch() -> int:
    """The modification time of every file of the images (images/make-image.sh)."""
    text = (REPO / "images" / "make-image.sh").read_text()
    return int(text.split("\nIMAGE_EPOCH=", 1)[1].split()[0])


def test_opcache_keeps_the_stores_code_in_the_pods_php_fpm(real, shop):
    """Every file of the image has a fixed, non-zero modification time, so
    opcache (timestamps validated) caches WordPress and WooCommerce in
    php-fpm's shared memory: after a page, hundreds of scripts of both; more
    pages are hits, with at most a few new misses (a code path a page takes
    only now and then: one core file in a CI run), and the plan's opcache is
    not full (at 64 MiB it was: 2,066 scripts took 82 MB)."""
    k8s, ns = real.cluster, real.store_ns("shop")
    base, host = through_ingress(shop["store"]["url"])
    product = "product/beanie/"
    with (
        file_in_store(k8s, ns, probe_name(), OPCACHE_PROBE) as probe,
        httpx.Client(base_url=base, headers=host, timeout=60) as http,
    ):
        page_times(http, product, 3, UNCACHED)
        first = opcache(http, probe)
        page_times(http, product, 5, UNCACHED)
        second = opcache(http, probe)
    print(f"opcache after a page: {first}; after five more: {second}")
    assert first["enabled"] and first["validate_timestamps"] == "1", first
    assert first["core_mtime"] == _image_epoch(), first
    assert first["cached_scripts"] >= 300, first
    assert first["core_scripts"] >= 100 and first["woocommerce_scripts"] >= 100, first
    assert second["hits"] - first["hits"] >= 5 * 300, (first, second)
    assert second["misses"] - first["misses"] <= 5, (first, second)
    assert second["cache_full"] is False and second["oom_restarts"] == 0, second
    assert second["memory_consumption"] == plans.find(plans.DEFAULT_PLANS, "small").opcache_mib


def test_a_store_pod_serves_its_pages_and_what_it_costs_idle(real, shop):
    """Through Traefik: a product page from the pod's page cache (HIT) and
    rendered by PHP (BYPASS), at one client and at sixteen, beside a static
    file; where an uncached page's time goes (microtime marks at WordPress's
    hooks); the pod's working set once it is idle, and what runs then.
    Figures printed (BENCH) and, with STOREFLEET_BENCH_OUT, recorded
    (bench/k8s_serve.py): not asserted, this machine is shared."""
    k8s, ns = real.cluster, real.store_ns("shop")
    base, host = through_ingress(shop["store"]["url"])
    product, static = "product/beanie/", "wp-includes/css/dist/block-library/style.min.css"
    figures: dict[str, Any] = {}

    def summary(times: list[float], **more: Any) -> dict[str, Any]:
        return {"p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(benchmark.percentile(times, 95), 1), "requests": len(times),
                **more}  # fmt: skip

    with httpx.Client(base_url=base, headers=host, timeout=60) as http:
        page_times(http, product, 2)
        cached, verdicts = page_times(http, product, 60)
        assert verdicts.count("HIT") >= 50, verdicts  # a MISS when the page's seconds are up
        uncached, verdicts = page_times(http, product, 20, UNCACHED)
        assert set(verdicts) == {"BYPASS"}, verdicts
        ceiling, _ = page_times(http, static, 60)
        figures["one client"] = {
            "static file (the ceiling)": summary(ceiling),
            "product page, cached": summary(cached),
            "product page, uncached": summary(uncached),
        }
        with file_in_store(k8s, ns, "mu-plugins/sf-timing.php", TIMING_PLUGIN):
            figures["uncached product page, ms since PHP began, at each hook"] = timing_marks(
                http, product, 10
            )
    sixteen: dict[str, Any] = {}
    for name, path, each, cached_pages in (
        ("static file (the ceiling)", static, 40, True),
        ("product page, cached", product, 40, True),
        ("product page, uncached", product, 4, False),
    ):
        times, rate = concurrent_times(base, host, path, 16, each, cached=cached_pages)
        sixteen[name] = summary(times, requests_per_s=round(rate, 1))
    figures["sixteen clients"] = sixteen

    # Idle: php-fpm's workers end 10 s after their last request (ondemand);
    # the readiness probe (every 10 s, through nginx to PHP) starts one again.
    time.sleep(15)
    samples = []
    for _ in range(4):
        running = processes(k8s, ns)
        samples.append({
            **working_set(k8s, ns),
            "php_workers": sum(p.startswith("php-fpm: pool") for p in running),
        })  # fmt: skip
        time.sleep(5)
    assert all(s["php_workers"] <= 5 for s in samples), samples  # the plan's pm.max_children
    figures["idle pod"] = {
        "samples": samples,
        "working_set_mib_median": round(
            statistics.median(s["working_set_bytes"] for s in samples) / 2**20, 1
        ),
    }
    figures["plan"] = "small"
    _record_serving(figures)


def _record_serving(figures: dict[str, Any]) -> None:
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nodes": "real node, through Traefik",
        "machine": benchmark.machine(),
        **figures,
    }
    print("BENCH", json.dumps(result))
    out = os.environ.get("STOREFLEET_BENCH_OUT")  # bench/k8s_serve.py
    if out:
        Path(out).write_text(json.dumps(result, indent=2) + "\n")


# -- b: what a store's pod may reach ------------------------------------------------


@pytest.fixture(scope="module")
def other(real: ClusterPlatform) -> dict[str, Any]:
    """A second store, without sample products, ready (beside ``shop``)."""
    store_id = _create(real, "other", "Other-" + secrets.token_urlsafe(10), sample_products=False)
    return {"id": store_id, "store": real.admin().wait_for(store_id, "ready", timeout=READY)}


def test_a_store_reaches_dns_and_its_own_database_but_not_another_store(real, shop, other):
    k8s = real.cluster
    core = client.CoreV1Api(k8s.api)
    other_id = other["id"]
    a, b = real.store_ns("shop"), real.store_ns("other")
    b_pod = web_pod(k8s, b)

    # DNS, and its own database with its own credentials.
    code, out = php_in_store(k8s, a, "echo gethostbyname('kubernetes.default.svc.cluster.local');")
    assert code == 0 and out.strip() == "10.96.0.1", out
    own = (
        "mysqli_report(MYSQLI_REPORT_OFF); [$h, $p] = explode(':', getenv('WORDPRESS_DB_HOST'));"
        " $db = mysqli_connect($h, getenv('WORDPRESS_DB_USER'), getenv('WORDPRESS_DB_PASSWORD'),"
        " getenv('WORDPRESS_DB_NAME'), (int) $p); exit($db ? 0 : 1);"
    )
    assert php_in_store(k8s, a, own)[0] == 0, "the store does not reach its own database"
    other_uid = real.admin().store(other_id)["uid"]
    theirs = own.replace("getenv('WORDPRESS_DB_NAME')", f"'{real.db_name(other_uid)}'")
    assert php_in_store(k8s, a, theirs)[0] == 1, "the store opened another store's database"

    # Not the other store's pod, although the ingress controller reaches both.
    assert not connects(k8s, a, b_pod.status.pod_ip, 8080)
    assert not connects(k8s, b, web_pod(k8s, a).status.pod_ip, 8080)

    # HTTPS egress goes to the internet only: a pod of the cluster listening on
    # 443 is out of reach (it was not when 443 was open to 0.0.0.0/0).
    target = f"{real.namespace}-https"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=target, labels={"storefleet.dev/test": "true"})
        )
    )
    try:
        server = _https_listener(k8s, target)
        with socket.create_connection((server, 443), timeout=5):
            pass  # it answers (from this machine, where no policy applies)
        assert not connects(k8s, a, server, 443), "a store reached a cluster pod on 443"
    finally:
        core.delete_namespace(target)


def _https_listener(k8s: Cluster, namespace: str) -> str:
    """A pod listening on 443 (busybox httpd): its address."""
    core = client.CoreV1Api(k8s.api)
    deadline = time.monotonic() + 30
    while not any(
        sa.metadata.name == "default"
        for sa in core.list_namespaced_service_account(namespace).items
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="https", labels={"app": "https"}),
            spec=client.V1PodSpec(
                automount_service_account_token=False,
                termination_grace_period_seconds=1,
                security_context=client.V1PodSecurityContext(
                    run_as_user=65534,
                    run_as_non_root=True,
                    sysctls=[
                        client.V1Sysctl(name="net.ipv4.ip_unprivileged_port_start", value="0")
                    ],
                ),
                containers=[
                    client.V1Container(
                        name="httpd",
                        image=k8s.image("toolbox"),
                        image_pull_policy="IfNotPresent",
                        command=[
                            "sh",
                            "-c",
                            "mkdir -p /tmp/w && echo ok > /tmp/w/index.html"
                            " && exec httpd -f -p 443 -h /tmp/w",
                        ],
                        readiness_probe=client.V1Probe(
                            tcp_socket=client.V1TCPSocketAction(port=443), period_seconds=1
                        ),
                    )
                ],
            ),
        ),
    )
    deadline = time.monotonic() + 90
    while True:
        pod = core.read_namespaced_pod("https", namespace)
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return str(pod.status.pod_ip)
        assert time.monotonic() < deadline, f"the 443 listener is not Ready: {pod.status}"
        time.sleep(1)


# -- c: a worker SIGKILLed during the install; a helm killed mid-release -----------


def test_a_worker_killed_during_the_install_leaves_one_release_and_one_install_run(real):
    k8s, api = real.cluster, real.admin()
    store_id = _create(real, "survivor", "Survivor-" + secrets.token_urlsafe(10))
    deadline = time.monotonic() + 300
    while api.store(store_id)["current_step"] != "install":
        assert api.store(store_id)["status"] not in ("ready", "failed"), api.store(store_id)
        assert time.monotonic() < deadline, "the install step did not start"
        time.sleep(0.2)
    time.sleep(3)  # the install Job is running now
    real.procs.kill("worker", signal.SIGKILL)
    real.procs.start("worker")
    store = api.wait_for(store_id, "ready", timeout=READY)

    ns = real.store_ns("survivor")
    assert [(h["revision"], h["status"]) for h in _helm_history(k8s, ns)] == [(1, "deployed")]
    assert [p.status.phase for p in _install_pods(k8s, ns)] == ["Succeeded"], "one install run"
    assert published_products(k8s, ns) == 12, "the sample products were added once"
    assert _step(store, "verify")["status"] == "succeeded"
    mine = (
        client.CoreV1Api(k8s.api)
        .list_namespace(label_selector=f"storefleet.io/store-uid={store['uid']}")
        .items
    )
    assert [n.metadata.name for n in mine] == [ns]
    assert database_state(real.stores_db_url, real.db_name(store["uid"])) == (1, 1)


def test_a_helm_killed_in_the_middle_of_a_release_is_recovered(real):
    k8s, api = real.cluster, real.admin()
    ns = real.store_ns("phoenix")
    real.restart_worker(KILL_HELM_NAMESPACE=ns, KILL_HELM_MARK=str(real.tmp / "killed-once"))
    try:
        store_id = _create(real, "phoenix", "Phoenix-" + secrets.token_urlsafe(10))
        store = api.wait_for(store_id, "ready", timeout=READY)
    finally:
        real.restart_worker(KILL_HELM_NAMESPACE=None, KILL_HELM_MARK=None)
    assert "killed helm" in real.helm_log.read_text()
    events = api.http.get(f"/api/stores/{store_id}/events").json()
    recovered = [e["message"] for e in events if "left pending-install" in e["message"]]
    assert recovered and "uninstalled it" in recovered[0], [e["message"] for e in events]
    history = _helm_history(k8s, ns)
    assert history[-1]["status"] == "deployed", history
    assert _step(store, "verify")["status"] == "succeeded"


# -- a failed install, retried; the Job re-runs as a new revision -------------------


def test_a_failed_install_is_retried_as_a_new_revision_of_the_job(real, tmp_path):
    k8s, api = real.cluster, real.admin()
    # An install Job that cannot finish: its deadline is one second.
    values = yaml.safe_load(real.store_values.read_text())
    values["install"] = {"activeDeadlineSeconds": 1, "backoffLimit": 0}
    doomed = tmp_path / "doomed-install.yaml"
    doomed.write_text(yaml.safe_dump(values))
    real.restart_worker(STOREFLEET_K8S_STORE_VALUES=str(doomed))
    try:
        store_id = _create(real, "retried", "Retried-" + secrets.token_urlsafe(10))
        failed = api.wait_for(store_id, "failed", timeout=READY)
    finally:
        real.restart_worker(STOREFLEET_K8S_STORE_VALUES=str(real.store_values))
    assert "the install Job install-1 failed" in failed["failure_reason"], failed["failure_reason"]
    ns = real.store_ns("retried")
    # The admin password stays with the store until an install has used it.
    assert exists(client.CoreV1Api(k8s.api).read_namespaced_secret, "store-admin", ns)

    assert api.http.post(f"/api/stores/{store_id}/retry").status_code == 202
    store = api.wait_for(store_id, "ready", timeout=READY)
    install = _step(store, "install")
    assert "install-2 completed" in install["message"] and "was failed" in install["message"]
    jobs = client.BatchV1Api(k8s.api).list_namespaced_job(ns).items
    assert [j.metadata.name for j in jobs] == ["install-2"], "helm removed the failed Job"
    assert published_products(k8s, ns) == 12


# -- e: a chart upgrade with a new image tag -------------------------------------------


def test_a_chart_upgrade_rolls_the_pods_reruns_the_install_and_the_store_still_sells(real, shop):
    k8s = real.cluster
    ns = real.store_ns("shop")
    apps, batch = client.AppsV1Api(k8s.api), client.BatchV1Api(k8s.api)
    # The merchant changed things the installer set up the first time.
    wp_option(k8s, ns, "woocommerce_currency", "EUR")
    wp_option(k8s, ns, "blogdescription", "Hats and more")
    before = web_pod(k8s, ns)
    revision = _helm_history(k8s, ns)[-1]["revision"]

    # The same store image under a new tag in the registry, as a new release
    # of it would be published; the node pulls it. (One tag for every run:
    # the registry deletes manifests, not tags, and up.sh makes the node
    # forget this tag, which the index does not name.)
    tag = "upgrade-test"
    _tag_in_registry(k8s.image("store"), tag)
    helm = [
        "helm", "upgrade", "store", str(STORE_CHART), "--namespace", ns, "--reuse-values",
        "--set", f"image.tag={tag}", "--kube-as-user",
        f"system:serviceaccount:{real.namespace}:storefleet-worker",
    ]  # fmt: skip
    k8s.run(*helm, timeout=180)

    new_job = f"install-{revision + 1}"
    deadline = time.monotonic() + READY
    while True:
        job = (
            batch.read_namespaced_job(new_job, ns)
            if exists(batch.read_namespaced_job, new_job, ns)
            else None
        )
        dep = apps.read_namespaced_deployment("store", ns)
        rolled = (
            (dep.status.updated_replicas or 0) == 1
            and (dep.status.available_replicas or 0) == 1
            and (dep.status.replicas or 0) == 1
        )
        if (
            job
            and job.status.succeeded
            and rolled
            and dep.status.observed_generation >= dep.metadata.generation
        ):
            break
        assert not (job and job.status.failed), f"{new_job} failed"
        assert time.monotonic() < deadline, (
            f"the upgrade did not finish: {dep.status}, {job and job.status}"
        )
        time.sleep(2)
    after = web_pod(k8s, ns)
    assert after.metadata.name != before.metadata.name
    assert after.spec.containers[0].image.endswith(f":{tag}")
    assert [j.metadata.name for j in batch.list_namespaced_job(ns).items] == [new_job]
    # The install ran again and reset nothing the merchant changed.
    assert wp_option(k8s, ns, "woocommerce_currency") == "EUR"
    assert wp_option(k8s, ns, "blogdescription") == "Hats and more"
    assert published_products(k8s, ns) == 12
    order = order_in_chromium(shop["store"]["url"], "shop", shop["password"], k8s=k8s, namespace=ns)
    assert order["status"] == "processing"


def _tag_in_registry(image: str, tag: str) -> None:
    """Publish ``image`` under another tag in the test registry: the same
    manifest, put under ``tag`` (registry API v2)."""
    registry, rest = image.split("/", 1)
    repository, current = rest.rsplit(":", 1)
    accept = (
        "application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.v2+json"
    )
    base = f"http://{registry}/v2/{repository}/manifests"
    got = httpx.get(f"{base}/{current}", headers={"Accept": accept}, timeout=30)
    assert got.status_code == 200, got.text
    put = httpx.put(
        f"{base}/{tag}",
        content=got.content,
        headers={"Content-Type": got.headers["content-type"]},
        timeout=30,
    )
    assert put.status_code == 201, put.text


# -- issue 19: a store's logs, read by the worker ----------------------------------------


def test_a_stores_php_warning_reaches_its_logs_through_the_worker_and_not_anothers(
    real, shop, other
):
    """The API has no cluster rights: it asks through the platform database and
    the worker's log reader reads the pod's logs (pods/log of the store-manager
    role) and answers, redacted."""
    api, mark = real.admin(), secrets.token_hex(6)
    a = real.store_ns("shop")
    # A PHP file in the store's own wp-content, written by its pod (as a plugin's would be).
    code = f'<?php trigger_error("sf-warning-{mark}", E_USER_WARNING); echo "done";'
    encoded = base64.b64encode(code.encode()).decode()
    target = f"/var/www/html/wp-content/warn-{mark}.php"
    put = f"exit(file_put_contents('{target}', base64_decode('{encoded}')) ? 0 : 1);"
    assert php_in_store(real.cluster, a, put)[0] == 0

    token, cookie = f"tok-{secrets.token_hex(6)}", f"ck-{secrets.token_hex(6)}"
    started = time.monotonic()
    page = httpx.get(
        f"http://127.0.0.1:{INGRESS_PORT}/wp-content/warn-{mark}.php",
        params={"token": token}, cookies={"wordpress_logged_in_abc": cookie},
        headers={"Host": f"shop.localhost:{INGRESS_PORT}"}, timeout=60,
    )  # fmt: skip
    assert page.text == "done", page.text

    def logs(store_id: int, **params: str) -> list[dict[str, Any]]:
        resp = api.http.get(f"/api/stores/{store_id}/logs", params=params, timeout=30)
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = resp.json()["items"]
        return items

    while not (warned := logs(shop["id"], source="php", q=f"sf-warning-{mark}")):
        assert time.monotonic() - started < 10, "the warning was not in the store's logs in 10 s"
        time.sleep(0.5)
    print(f"the warning was in the store's logs {time.monotonic() - started:.1f} s after it")
    line = warned[0]
    assert f"PHP Warning:  sf-warning-{mark} in " in line["text"] and line["at"] is not None

    (hit,) = logs(shop["id"], source="access", q=f"warn-{mark}")
    # nginx writes the path without its query string (access-log.conf.j2).
    assert f'"GET /wp-content/warn-{mark}.php" 200' in hit["text"], hit
    assert token not in hit["text"] and cookie not in hit["text"]
    # The other store's logs have none of it.
    for source in ("php", "access"):
        assert logs(other["id"], source=source, q=mark) == []


# -- d: deletion leaves nothing ------------------------------------------------------------


def test_deleting_a_store_leaves_no_namespace_volume_database_user_or_secret(real):
    k8s, api = real.cluster, real.admin()
    core = client.CoreV1Api(k8s.api)
    store_id = _create(real, "goner", "Goner-" + secrets.token_urlsafe(10), sample_products=False)
    store = api.wait_for(store_id, "ready", timeout=READY)
    ns, uid = real.store_ns("goner"), store["uid"]
    volumes = volumes_of(k8s, ns)
    assert len(volumes) == 1
    assert database_state(real.stores_db_url, real.db_name(uid)) == (1, 1)
    assert exists(core.read_namespaced_secret, f"store-{uid}-credentials", real.namespace)

    assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
    api.wait_for(store_id, "deleted", timeout=300)
    assert not exists(core.read_namespace, ns)
    wait_gone(lambda: exists(core.read_persistent_volume, volumes[0]), f"volume {volumes[0]}")
    assert database_state(real.stores_db_url, real.db_name(uid)) == (0, 0)
    assert not exists(core.read_namespaced_secret, f"store-{uid}-credentials", real.namespace)


# -- TLS: cert-manager's HTTP-01 solver is reachable through the ingress ------------------


def test_the_http01_solver_of_a_store_is_reachable_through_the_ingress(real, tmp_path):
    """What cert-manager does for a store's certificate (HTTP-01): a solver
    pod in the store's namespace, labelled acme.cert-manager.io/http01-solver,
    behind an Ingress for /.well-known/acme-challenge/<token> on the store's
    host. The store's default-deny policy admits the ingress controller to it;
    a pod without that label stays out of reach."""
    k8s = real.cluster
    core, net = client.CoreV1Api(k8s.api), client.NetworkingV1Api(k8s.api)
    name = f"acme-{uuid.uuid4().hex[:6]}"
    ns, host = f"sft-{name}", f"{name}.localhost"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=ns,
                labels={
                    "storefleet.dev/test": "true",
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            )
        )
    )
    try:
        values = yaml.safe_load(real.store_values.read_text())
        values.update(
            storeId=99, storeUid="acme00000099", storeName=name,
            database={"host": "nowhere", "name": "x", "user": "x", "password": "x"},
            admin={"email": "o@example.com"}, persistence={"enabled": False},
            ingress={"enabled": True, "className": "traefik", "host": host,
                     "tls": {"enabled": True, "clusterIssuer": "letsencrypt-staging"}},
        )  # fmt: skip
        values_file = tmp_path / "acme.yaml"
        values_file.write_text(yaml.safe_dump(values))
        k8s.run(
            "helm", "install", "store", str(STORE_CHART), "--namespace", ns, "-f", str(values_file)
        )
        policy = net.read_namespaced_network_policy("acme-http01-solver", ns)
        assert policy.spec.pod_selector.match_labels == {
            "acme.cert-manager.io/http01-solver": "true"
        }
        ingress = net.read_namespaced_ingress("store", ns)
        assert (
            ingress.metadata.annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-staging"
        )

        token = secrets.token_urlsafe(16)
        for pod, solver in (("cm-acme-http-solver", True), ("not-a-solver", False)):
            _challenge_server(k8s, ns, pod, token, solver)
            path = f"/.well-known/acme-challenge/{token}" + ("" if solver else "-x")
            net.create_namespaced_ingress(ns, _challenge_ingress(pod, host, path))
        _wait_ready_pods(k8s, ns, {"cm-acme-http-solver", "not-a-solver"})

        url = f"http://127.0.0.1:{INGRESS_PORT}/.well-known/acme-challenge/{token}"
        deadline = time.monotonic() + 60
        while True:  # Traefik picks the Ingress up within seconds
            answer = httpx.get(url, headers={"Host": host}, timeout=40)
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert answer.status_code == 200 and answer.text.strip() == f"{token}.key", answer.text
        # The other route is there too (not 404: Traefik knows it), but its
        # pod stays out of reach: Traefik times out dialling it.
        deadline = time.monotonic() + 60
        while True:
            blocked = httpx.get(url + "-x", headers={"Host": host}, timeout=60)
            if blocked.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert blocked.status_code in (502, 504), (blocked.status_code, blocked.text[:200])
    finally:
        k8s.run("helm", "uninstall", "store", "--namespace", ns, check=False)
        core.delete_namespace(ns)


def _challenge_server(k8s: Cluster, ns: str, name: str, token: str, solver: bool) -> None:
    labels = {"app": name}
    if solver:
        labels["acme.cert-manager.io/http01-solver"] = "true"
    where = "/tmp/w/.well-known/acme-challenge"
    script = (
        f"mkdir -p {where} && echo {token}.key > {where}/{token}"
        f" && cp {where}/{token} {where}/{token}-x && exec httpd -f -p 8089 -h /tmp/w"
    )
    core = client.CoreV1Api(k8s.api)
    core.create_namespaced_pod(
        ns,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            spec=client.V1PodSpec(
                automount_service_account_token=False,
                termination_grace_period_seconds=1,
                security_context=client.V1PodSecurityContext(
                    run_as_non_root=True, run_as_user=65534,
                    seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
                ),
                containers=[
                    client.V1Container(
                        name="solver", image=k8s.image("toolbox"), image_pull_policy="IfNotPresent",
                        command=["sh", "-c", script],
                        ports=[client.V1ContainerPort(container_port=8089)],
                        readiness_probe=client.V1Probe(
                            tcp_socket=client.V1TCPSocketAction(port=8089), period_seconds=1
                        ),
                        security_context=client.V1SecurityContext(
                            allow_privilege_escalation=False,
                            capabilities=client.V1Capabilities(drop=["ALL"]),
                        ),
                    )
                ],
            ),
        ),
    )  # fmt: skip
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(
                selector=labels, ports=[client.V1ServicePort(port=8089, target_port=8089)]
            ),
        ),
    )


def _challenge_ingress(service: str, host: str, path: str) -> client.V1Ingress:
    backend = client.V1IngressBackend(
        service=client.V1IngressServiceBackend(
            name=service, port=client.V1ServiceBackendPort(number=8089)
        )
    )
    return client.V1Ingress(
        metadata=client.V1ObjectMeta(name=service),
        spec=client.V1IngressSpec(
            ingress_class_name="traefik",
            rules=[
                client.V1IngressRule(
                    host=host,
                    http=client.V1HTTPIngressRuleValue(
                        paths=[
                            client.V1HTTPIngressPath(path=path, path_type="Exact", backend=backend)
                        ]
                    ),
                )
            ],
        ),
    )


def _wait_ready_pods(k8s: Cluster, ns: str, names: set[str], timeout: float = 120) -> None:
    core = client.CoreV1Api(k8s.api)
    deadline = time.monotonic() + timeout
    while True:
        ready = {
            p.metadata.name
            for p in core.list_namespaced_pod(ns).items
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        }
        if names <= ready:
            return
        assert time.monotonic() < deadline, f"not Ready: {names - ready}"
        time.sleep(1)


# -- f: stores at once on the real node ----------------------------------------------------


def test_stores_at_once_on_the_real_node(real):
    """Three stores created at once on the real node (bench/k8s_provision.py:
    ten), each POST -> ready with verify run, and every one of them serving
    its own storefront through the ingress."""
    api = real.admin()
    total = benchmark.count(3)
    names = [f"batch-{n:02d}" for n in range(total)]
    started = time.monotonic()
    posted: dict[int, float] = {}
    for name in names:
        store_id = _create(real, name, "Batch-" + secrets.token_urlsafe(10), sample_products=True)
        posted[store_id] = time.monotonic()
    ready: dict[int, float] = {}
    deadline = time.monotonic() + READY * 2
    while len(ready) < total:
        assert time.monotonic() < deadline, f"{len(ready)}/{total} ready"
        for store_id in posted.keys() - ready.keys():
            store = api.store(store_id)
            assert store["status"] != "failed", store["failure_reason"]
            if store["status"] == "ready":
                ready[store_id] = time.monotonic()
                assert _step(store, "verify")["status"] == "succeeded"
        time.sleep(1)
    wall = time.monotonic() - started
    for store_id in posted:
        url = api.store(store_id)["url"]
        host = url.split("//", 1)[1].rstrip("/")
        page = httpx.get(f"http://127.0.0.1:{INGRESS_PORT}/", headers={"Host": host}, timeout=30)
        assert page.status_code == 200 and api.store(store_id)["name"] in page.text
    benchmark.record(
        "real node",
        {"stores": total, "wall_seconds": round(wall, 1),
         "stores_per_minute": round(total / wall * 60, 1)},
        [ready[i] - posted[i] for i in posted],
        "post_to_ready_seconds",
    )  # fmt: skip
    for store_id in posted:
        assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
    for store_id in posted:
        api.wait_for(store_id, "deleted", timeout=300)


# -- day 2 (issue 12) on the real node: health, suspend/resume, backup/restore -------------


def _wait_phase(api: Api, store_id: int, phase: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        store = api.store(store_id)
        if store["status"] == phase:
            return store
        assert store["status"] != "failed", store["failure_reason"]
        assert time.monotonic() < deadline, f"not {phase} in {timeout:.0f} s: {store['status']}"
        time.sleep(1)


def _set_image(k8s: Cluster, ns: str, image: str) -> None:
    client.AppsV1Api(k8s.api).patch_namespaced_deployment(
        "store", ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "wordpress", "image": image}]}}}},
    )  # fmt: skip


def test_a_broken_store_is_degraded_with_its_pods_reason_and_ready_once_repaired(real):
    """Issue 12, e: break a Kubernetes store's Deployment (an image the node
    does not have) -> degraded, the reason naming the pod's state; repair it
    -> ready again. Health checks run through the ingress with the Host."""
    k8s, api = real.cluster, real.admin()
    store_id = _create(
        real, "fragile", "Fragile-" + secrets.token_urlsafe(10), sample_products=False
    )
    api.wait_for(store_id, "ready", timeout=READY)
    ns = real.store_ns("fragile")
    good = client.AppsV1Api(k8s.api).read_namespaced_deployment("store", ns)
    image = good.spec.template.spec.containers[0].image
    # A tag the test registry does not have: the pull fails there, at once.
    _set_image(k8s, ns, image.rsplit(":", 1)[0] + ":not-on-this-node")
    degraded = _wait_phase(api, store_id, "degraded")
    reason = degraded["failure_reason"]
    assert "fragile.localhost" in reason, reason
    assert (
        "waiting (ErrImage" in reason
        or "ImagePullBackOff" in reason
        or "ErrImageNeverPull" in reason
    ), reason
    _set_image(k8s, ns, image)
    _wait_phase(api, store_id, "ready")


def test_a_store_is_suspended_and_resumed_by_scaling(real):
    k8s, api = real.cluster, real.admin()
    store_id = _create(real, "sleepy", "Sleepy-" + secrets.token_urlsafe(10), sample_products=False)
    store = api.wait_for(store_id, "ready", timeout=READY)
    ns, host = real.store_ns("sleepy"), f"sleepy.localhost:{INGRESS_PORT}"
    assert api.http.post(f"/api/stores/{store_id}/suspend").status_code == 202
    _wait_phase(api, store_id, "suspended")
    apps = client.AppsV1Api(k8s.api)
    assert apps.read_namespaced_deployment("store", ns).spec.replicas == 0
    gone = httpx.get(f"http://127.0.0.1:{INGRESS_PORT}/", headers={"Host": host}, timeout=30)
    assert gone.status_code >= 500, gone.status_code  # Traefik: no endpoint
    assert exists(
        client.CoreV1Api(k8s.api).read_namespaced_persistent_volume_claim, "store-data", ns
    )
    assert api.http.post(f"/api/stores/{store_id}/resume").status_code == 202
    _wait_phase(api, store_id, "ready")
    back = httpx.get(f"http://127.0.0.1:{INGRESS_PORT}/", headers={"Host": host}, timeout=30)
    assert back.status_code == 200 and "sleepy" in back.text
    assert store["url"] == api.store(store_id)["url"]


def test_a_store_is_backed_up_and_restored_through_its_pod(real):
    k8s, api = real.cluster, real.admin()
    store_id = _create(real, "saved", "Saved-" + secrets.token_urlsafe(10))
    api.wait_for(store_id, "ready", timeout=READY)
    ns = real.store_ns("saved")
    wp_option(k8s, ns, "blogdescription", "Before the backup")
    # A file of the store's own in wp-content (on the volume).
    code, out = php_in_store(
        k8s, ns, "file_put_contents('/var/www/html/wp-content/uploads/kept.txt', 'kept');"
    )
    assert code == 0, out

    assert api.http.post(f"/api/stores/{store_id}/backups").status_code == 202
    deadline = time.monotonic() + 300
    while True:
        backups = api.http.get(f"/api/stores/{store_id}/backups").json()["items"]
        if backups and backups[0]["status"] != "pending":
            break
        assert time.monotonic() < deadline, backups
        time.sleep(2)
    backup = backups[0]
    assert backup["status"] == "completed", backup["failure_reason"]
    _wait_phase(api, store_id, "ready")

    # Damage: the setting changed, the file gone.
    wp_option(k8s, ns, "blogdescription", "After the damage")
    code, out = php_in_store(k8s, ns, "unlink('/var/www/html/wp-content/uploads/kept.txt');")
    assert code == 0, out

    resp = api.http.post(f"/api/stores/{store_id}/restore", json={"backup_id": backup["id"]})
    assert resp.status_code == 202, resp.text
    op = api.wait_operation(store_id, resp.json()["id"], timeout=600)
    assert op["status"] == "succeeded", (op["failure_reason"], op["steps"])
    assert [s["name"] for s in op["steps"]] == [
        "fetch", "database", "files", "address", "upgrade", "restart", "rollout",
    ]  # fmt: skip
    upgrade = next(s for s in op["steps"] if s["name"] == "upgrade")["message"]
    assert "WordPress 7.0.4 (database" in upgrade and "WooCommerce 11.0.1" in upgrade, upgrade
    _wait_phase(api, store_id, "ready")
    assert wp_option(k8s, ns, "blogdescription") == "Before the backup"
    code, out = php_in_store(
        k8s, ns, "echo file_get_contents('/var/www/html/wp-content/uploads/kept.txt');"
    )
    assert code == 0 and out.strip().endswith("kept"), out
    assert published_products(k8s, ns) == 12

    # Issue 12, b: the backup cloned into a new store of its own — the
    # backup's settings, file and products under the clone's address, title
    # and new admin password, and it takes an order.
    password = "Copy-" + secrets.token_urlsafe(10)
    copy = api.wait_for(
        _create(real, "saved-copy", password, source_backup_id=backup["id"]), "ready", READY
    )
    assert [s["name"] for s in copy["steps"] if s["operation"] == "provision"][-8:] == [
        "rollout", "content", "data", "adopt", "upgrade", "restart", "restarted", "verify",
    ]  # fmt: skip
    assert (copy["wordpress_version"], copy["woocommerce_version"]) == ("7.0.4", "11.0.1")
    copy_ns = real.store_ns("saved-copy")
    assert wp_option(k8s, copy_ns, "blogdescription") == "Before the backup"
    assert wp_option(k8s, copy_ns, "blogname") == "saved-copy"
    assert wp_option(k8s, copy_ns, "home") == copy["url"].rstrip("/")
    code, out = php_in_store(
        k8s, copy_ns, "echo file_get_contents('/var/www/html/wp-content/uploads/kept.txt');"
    )
    assert code == 0 and out.strip().endswith("kept"), out
    assert published_products(k8s, copy_ns) == 12
    order = order_in_chromium(copy["url"], "saved-copy", password, k8s=k8s, namespace=copy_ns)
    assert order["status"] == "processing" and order["payment_method"] == "cod"
    # The source is untouched: still its own address and title.
    assert wp_option(k8s, ns, "home") == api.store(store_id)["url"].rstrip("/")
    assert wp_option(k8s, ns, "blogname") == "saved"


# -- issue 18: S3 backups of a Kubernetes store; its image from the registry ----


def test_a_kubernetes_store_is_backed_up_to_s3_and_restored_from_it(real, shop, s3_bucket):
    """Issue 18, d: the same backup code as the local driver's, with the S3
    target the tests already run (the worker streams the store's database
    and files out of its pod, encrypts them and puts one object in the
    bucket); what changed after the backup is back after the restore."""
    k8s, api, store_id = real.cluster, real.admin(), shop["id"]
    ns = real.store_ns("shop")
    settings = s3_bucket["settings"]
    real.restart_worker(**{f"STOREFLEET_{key.upper()}": value for key, value in settings.items()})
    try:
        wp_option(k8s, ns, "blogdescription", "Kept in S3")
        code, out = php_in_store(
            k8s, ns, "file_put_contents('/var/www/html/wp-content/uploads/s3.txt', 'in s3');"
        )
        assert code == 0, out
        backup = api.take_backup(store_id, timeout=300)
        assert backup["target"] == "s3", backup
        uid = api.store(store_id)["uid"]
        key = f"storefleet/stores/{uid}/backup-{backup['id']}.sfb"
        body = s3_bucket["client"].get_object(Bucket=s3_bucket["bucket"], Key=key)["Body"].read()
        assert len(body) == backup["size_bytes"] and body[:4] == b"SFB1"
        assert b"Kept in S3" not in body  # encrypted before it left the worker
        assert not list(real.settings.backups_path.rglob(f"backup-{backup['id']}.sfb"))
        _wait_phase(api, store_id, "ready")

        # What a merchant changed afterwards, and a file gone.
        wp_option(k8s, ns, "blogdescription", "Changed after the backup")
        code, out = php_in_store(k8s, ns, "unlink('/var/www/html/wp-content/uploads/s3.txt');")
        assert code == 0, out

        resp = api.http.post(f"/api/stores/{store_id}/restore", json={"backup_id": backup["id"]})
        assert resp.status_code == 202, resp.text
        op = api.wait_operation(store_id, resp.json()["id"], timeout=600)
        assert op["status"] == "succeeded", (op["failure_reason"], op["steps"])
        fetched = next(s for s in op["steps"] if s["name"] == "fetch")
        assert fetched["status"] == "succeeded", fetched
        _wait_phase(api, store_id, "ready")
        assert wp_option(k8s, ns, "blogdescription") == "Kept in S3"
        code, out = php_in_store(
            k8s, ns, "echo file_get_contents('/var/www/html/wp-content/uploads/s3.txt');"
        )
        assert code == 0 and out.strip().endswith("in s3"), out
    finally:
        real.restart_worker(
            STOREFLEET_BACKUP_TARGET="dir",
            **{f"STOREFLEET_{key.upper()}": None for key in settings if key != "backup_target"},
        )


def _ctr(*args: str) -> str:
    """ctr against the test node's containerd, in the kubelet's namespace."""
    sock = TESTENV_VAR / "containerd" / "containerd.sock"
    done = subprocess.run(
        ["ctr", "--address", str(sock), "--namespace", "k8s.io", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"ctr {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_a_store_pulls_its_image_from_the_registry_again_once_the_node_lost_it(real, shop):
    """Issue 18, a: every image of a store's pods names the test registry;
    with the store image deleted from the node's containerd, a new pod
    pulls it from there (the kubelet's Pulling/Pulled events name it, the
    registry served its manifest and layers) and becomes Ready."""
    k8s, api, store_id = real.cluster, real.admin(), shop["id"]
    ns = real.store_ns("shop")
    images = k8s.run(
        "kubectl", "get", "pods", "-n", ns, "-o", "jsonpath={..image}"
    ).stdout.split()  # fmt: skip
    registry = k8s.image("store").split("/", 1)[0]
    assert registry == TEST_REGISTRY and images, images
    assert all(image.startswith(f"{registry}/storefleet/") for image in images), images
    pod = web_pod(k8s, ns)
    image = pod.spec.containers[0].image
    repository = image.rsplit(":", 1)[0]

    # Every record of that image: its tags, the digest it was pulled by, and
    # the CRI's sha256:<id>; containerd then collects its content.
    listed = [line.split() for line in _ctr("images", "list").splitlines()[1:]]
    [digest] = {columns[2] for columns in listed if columns[0] == image}
    refs = [columns[0] for columns in listed if columns[2] == digest]
    _ctr("images", "remove", "--sync", *refs)
    left = [line for line in _ctr("images", "list").splitlines() if digest in line]
    assert not left, left
    log = REGISTRY_LOG.read_text(errors="replace")

    core = client.CoreV1Api(k8s.api)
    core.delete_namespaced_pod(pod.metadata.name, ns)
    deadline = time.monotonic() + 300
    while True:
        pods = core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/component=web").items
        new = [p for p in pods if p.metadata.name != pod.metadata.name]
        if new and new[0].status.container_statuses and new[0].status.container_statuses[0].ready:
            break
        assert time.monotonic() < deadline, namespace_state(core, ns)
        time.sleep(2)
    events = [
        (e.reason, e.message)
        for e in core.list_namespaced_event(
            ns, field_selector=f"involvedObject.name={new[0].metadata.name}"
        ).items
    ]
    assert ("Pulling", f'Pulling image "{image}"') in events, events
    assert any(r == "Pulled" and f'"{image}"' in m for r, m in events), events
    assert image in _ctr("images", "list", "--quiet").split()
    served = REGISTRY_LOG.read_text(errors="replace")[len(log) :]
    path = repository.removeprefix(f"{registry}/")
    # containerd resolves the tag (HEAD), then fetches the manifest by digest
    # and what the node no longer has (the image's config; the layer's
    # snapshot is still there, in use by the store's other pods' containers).
    assert f"HEAD /v2/{path}/manifests/{image.rsplit(':', 1)[1]} " in served, served[-2000:]
    assert f'GET /v2/{path}/manifests/{digest} HTTP/1.1" 200' in served, served[-2000:]
    assert f"GET /v2/{path}/blobs/sha256:" in served, served[-2000:]
    _wait_phase(api, store_id, "ready")


# -- issue 17: a resize applies the plan to the pod and to php-fpm -------------------------


def test_a_store_is_resized_from_small_to_medium_and_still_sells(real, shop):
    """PATCH {plan: medium} runs a resize (helm upgrade with the plan,
    rollout, verify): the new pod has the medium plan's resources (its
    cgroup's memory limit too), php-fpm's pool runs 13 workers at most and
    PHP 256M, the namespace's quota follows, and a shopper still orders."""
    k8s, api, store_id = real.cluster, real.admin(), shop["id"]
    ns = real.store_ns("shop")
    _wait_phase(api, store_id, "ready")
    before = web_pod(k8s, ns)
    assert cgroup_memory_limit(k8s, ns) == 512 * 2**20
    assert fpm_setting(k8s, ns, "pm.max_children") == "5"

    answer = api.http.patch(f"/api/stores/{store_id}", json={"plan": "medium"})
    assert answer.status_code == 202, answer.text
    (resize,) = [o for o in api.operations(store_id) if o["kind"] == "resize"]
    done = api.wait_operation(store_id, resize["id"], timeout=READY)
    assert done["status"] == "succeeded", done
    assert [s["name"] for s in done["steps"]] == ["release", "rollout", "verify"], done["steps"]
    store = _wait_phase(api, store_id, "ready")
    assert store["plan"] == "medium"

    after = web_pod(k8s, ns)
    assert after.metadata.name != before.metadata.name
    resources = container_resources(k8s, ns)
    assert resources.limits["memory"] == "1Gi" and resources.limits["cpu"] == "2", resources
    assert cgroup_memory_limit(k8s, ns) == 2**30
    assert fpm_setting(k8s, ns, "pm.max_children") == "13"
    assert fpm_setting(k8s, ns, "php_admin_value[memory_limit]") == "256M"
    quota = client.CoreV1Api(k8s.api).read_namespaced_resource_quota("store-quota", ns)
    assert quota.spec.hard["requests.cpu"] == "2"  # plan medium
    order = order_in_chromium(store["url"], "shop", shop["password"], k8s=k8s, namespace=ns)
    assert order["status"] == "processing" and order["payment_method"] == "cod"


# -- issue 18, c: a store moved from a local platform to this one, and back -----


def test_a_local_store_moves_to_the_cluster_and_back(
    real: ClusterPlatform, local_platform_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """A one-machine platform's store (the local driver, this machine's
    MariaDB) with a real order and a registered customer, exported under a
    passphrase and imported into this platform (the Kubernetes driver, the
    stores' MariaDB in the cluster): a wrong passphrase refused with nothing
    made; then ready through Traefik with its orders, customers and products,
    a new order taken; and back: exported from the cluster and imported into
    the local platform, with the order the cluster took."""
    local = local_platform_factory()
    here, there = local.admin(), real.admin()
    store, _, before = make_shop(here, "travelling")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("moving day, twice over\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("moving day, once over\n")
    archive = tmp_path / "to-the-cluster.sfx"
    done = cli(here, "stores", "export", "travelling", "--passphrase-file", str(passphrase),
               "--output", str(archive))  # fmt: skip
    assert done.returncode == 0, done.stderr

    refused = cli(there, "stores", "import", str(archive), "--owner", ADMIN_EMAIL,
                  "--passphrase-file", str(wrong))  # fmt: skip
    assert refused.returncode == 1 and "passphrase does not open this archive" in refused.stderr
    assert all(s["name"] != "travelling" for s in there.http.get("/api/stores").json()["items"])
    done = cli(there, "stores", "import", str(archive), "--owner", ADMIN_EMAIL,
               "--passphrase-file", str(passphrase))  # fmt: skip
    assert done.returncode == 0, done.stderr
    password = done.stdout.split("admin password (shown only now): ")[1].split()[0]
    [moved] = [
        s for s in there.http.get("/api/stores").json()["items"] if s["name"] == "travelling"
    ]
    moved = there.wait_for(moved["id"], "ready", timeout=READY)
    assert moved["driver"] == "kubernetes" and moved["url"].endswith(f":{INGRESS_PORT}/")
    assert [s["name"] for s in moved["steps"] if s["operation"] == "provision"][-9:] == [
        "install", "rollout", "content", "data", "adopt", "upgrade", "restart", "restarted",
        "verify",
    ]  # fmt: skip
    assert (moved["wordpress_version"], moved["woocommerce_version"]) == ("7.0.4", "11.0.1")
    assert _shop_state(moved["url"], password) == before
    in_cluster = smoke.place_order(moved["url"])
    after = _shop_state(moved["url"], password)
    assert set(after["orders"]) == {*before["orders"], in_cluster}

    # And back to a one-machine platform, the cluster's order with it.
    back = tmp_path / "back.sfx"
    done = cli(there, "stores", "export", "travelling", "--passphrase-file", str(passphrase),
               "--output", str(back))  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(here, "stores", "import", str(back), "--owner", ADMIN_EMAIL, "--name", "returned",
               "--passphrase-file", str(passphrase), "--wait")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    password = done.stdout.split("admin password (shown only now): ")[1].split()[0]
    [returned] = [
        s for s in here.http.get("/api/stores").json()["items"] if s["name"] == "returned"
    ]
    assert returned["driver"] == "local" and returned["status"] == "ready"
    assert _shop_state(returned["url"], password) == after
    assert smoke.place_order(returned["url"]) not in after["orders"]
    assert smoke.place_order(store["url"]) > 0  # the first store still sells
