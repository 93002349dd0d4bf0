"""The Kubernetes driver end to end on kwok's simulated nodes (issue 4, b to
e and g): the real API and worker processes provision stores into the test
control plane, running as the worker ServiceAccount that charts/storefleet
defines (a token of its own, not admin rights), with the stores' databases on
this machine's MariaDB. Nothing runs the pods here: the driver sees that the
store's pod is on a simulated node and says verify could not run. The same
driver with stores that really run: test_stores.py."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy import create_engine, text

from tests.k8s import benchmark
from tests.k8s.platforms import ClusterPlatform, Recipe, platform_on_cluster
from tests.support import Api, database_state


def _simulated(mariadb_admin_url: str, placement: dict[str, Any]) -> Recipe:
    # The platform's own pods and the stores go to the simulated nodes (scale
    # and control-plane behaviour); test_stores.py runs stores on the real node.
    return Recipe(
        name="drv",
        namespace_labels={},
        chart_overrides=placement,
        stores_db=lambda core, namespace, release: mariadb_admin_url,
        timings={"lease_seconds": 5, "requeue_after_seconds": 3,
                 "reconcile_interval_seconds": 1, "step_deadline_seconds": 120},
        env={"STOREFLEET_K8S_STORE_URL_PORT": "30080"},
        store_values_extra=placement,
        cleanup_stores_db=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def k8s_platform(k8s, mariadb_admin_url: str, tmp_path_factory) -> Iterator[ClusterPlatform]:  # type: ignore[no-untyped-def]
    recipe = _simulated(mariadb_admin_url, k8s.on_simulated_nodes())
    with platform_on_cluster(k8s, tmp_path_factory.mktemp("k8s-driver"), recipe) as platform:
        yield platform


def _grants(admin_url: str, user: str) -> list[str]:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text(f"SHOW GRANTS FOR '{user}'@'%'"))]
    finally:
        engine.dispose()


def _exists(call, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        call(*args)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_a_store_is_provisioned_into_its_namespace_and_deleted(
    k8s_platform: ClusterPlatform,
) -> None:
    p = k8s_platform
    api = p.admin()
    p.volume_for("kube-shop")
    password = "Kube-" + secrets.token_urlsafe(10)
    resp = api.create_store("kube-shop", admin_email="o@example.com", admin_password=password)
    assert resp.status_code == 202, resp.text
    store_id = resp.json()["id"]
    store = api.wait_for(store_id, "ready", timeout=180)

    # verify: honest about simulated nodes
    verify = next(s for s in store["steps"] if s["name"] == "verify")
    events = api.http.get(f"/api/stores/{store_id}/events").json()
    if p.cluster.simulated:  # type: ignore[attr-defined]
        # Judged by the node the store's pod runs on (the worker reads it by name).
        assert verify["status"] == "skipped"
        assert "runs on the simulated node kwok-node-" in verify["message"], verify["message"]
        assert any("not verifiable" in e["message"] for e in events)

    ns = p.store_ns("kube-shop")
    core, apps = p.core, client.AppsV1Api(p.cluster.api)  # type: ignore[attr-defined]
    namespace = core.read_namespace(ns)
    assert namespace.metadata.labels["storefleet.io/store"] == str(store_id)
    assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert [q.metadata.name for q in core.list_namespaced_resource_quota(ns).items]
    assert [lr.metadata.name for lr in core.list_namespaced_limit_range(ns).items]
    policies = client.NetworkingV1Api(p.cluster.api).list_namespaced_network_policy(ns).items  # type: ignore[attr-defined]
    assert any(pol.spec.pod_selector.match_labels in (None, {}) for pol in policies)  # default deny
    pvc = core.read_namespaced_persistent_volume_claim("store-data", ns)
    assert pvc.spec.resources.requests["storage"] == "5Gi"  # plan small
    deployment = apps.read_namespaced_deployment("store", ns)
    assert deployment.spec.strategy.type == "Recreate"
    assert store["url"] == "http://kube-shop.localhost:30080/"
    ingress = client.NetworkingV1Api(p.cluster.api).read_namespaced_ingress("store", ns)  # type: ignore[attr-defined]
    assert [r.host for r in ingress.spec.rules] == ["kube-shop.localhost"]
    assert not _exists(core.read_namespaced_secret, "store-admin", ns)  # wiped after install

    uid = store["uid"]
    assert database_state(p.stores_db_url, p.db_name(uid)) == (1, 1)
    grants = _grants(p.stores_db_url, p.db_name(uid))
    own = f"`{p.settings.stores_db_prefix}{uid}`.*"
    assert [g for g in grants if " ON " in g and "USAGE" not in g] == [
        g for g in grants if own in g
    ]
    assert any(own in g for g in grants)

    # No secret in any helm argument nor in the platform database.
    creds = core.read_namespaced_secret(f"store-{uid}-credentials", p.namespace).data
    import base64

    values = [base64.b64decode(v).decode() for v in creds.values()] + [password]
    helm_args = p.helm_log.read_text()
    assert "upgrade --install" in helm_args
    platform_db = b"".join(f.read_bytes() for f in p.settings.data_path.glob("*.db*"))
    for value in values:
        assert value not in helm_args
        assert value.encode() not in platform_db

    assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
    gone = api.wait_for(store_id, "deleted", timeout=180)
    if p.cluster.simulated:  # type: ignore[attr-defined]
        # The final backup keeps the database; no disk holds the files there.
        files = next(
            s for s in gone["steps"] if (s["operation"], s["name"]) == ("delete", "backup-files")
        )
        assert files["status"] == "skipped" and "simulated node" in files["message"], files
    assert not _exists(core.read_namespace, ns)  # finalised by the controller manager
    assert database_state(p.stores_db_url, p.db_name(uid)) == (0, 0)
    assert not _exists(core.read_namespaced_secret, f"store-{uid}-credentials", p.namespace)
    assert "uninstall store" in p.helm_log.read_text()


def test_a_killed_worker_leaves_one_of_everything(k8s_platform: ClusterPlatform) -> None:
    p = k8s_platform
    api = p.admin()
    p.volume_for("kube-survivor")
    store_id = api.create_store("kube-survivor").json()["id"]
    deadline = time.monotonic() + 60
    while api.store(store_id)["current_step"] not in ("release", "install", "rollout"):
        assert api.store(store_id)["status"] != "ready", "provisioning finished before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.procs.kill("worker", signal.SIGKILL)
    p.procs.start("worker")
    api.wait_for(store_id, "ready", timeout=180)

    ns = p.store_ns("kube-survivor")
    mine = [
        n.metadata.name
        for n in p.core.list_namespace(label_selector=f"storefleet.io/store={store_id}").items
    ]
    assert mine == [ns]
    releases = p.cluster.run("helm", "list", "--namespace", ns, "--short").stdout.split()  # type: ignore[attr-defined]
    assert releases == ["store"]
    assert database_state(p.stores_db_url, p.db_name(api.store(store_id)["uid"])) == (1, 1)


def test_the_worker_identity_is_denied_what_it_must_not_touch(
    k8s_platform: ClusterPlatform,
) -> None:
    from kubernetes import config as kube_config

    worker = kube_config.new_client_from_config(config_file=str(k8s_platform.worker_kubeconfig))
    core = client.CoreV1Api(worker)
    for call, args in (
        (core.list_namespaced_secret, ("kube-system",)),
        (core.list_node, ()),
    ):
        with pytest.raises(ApiException) as denied:
            call(*args)
        assert denied.value.status == 403
    with pytest.raises(ApiException) as denied:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="not-a-store")))
    assert denied.value.status in (403, 422)
    worker.close()


def test_fifty_stores_at_once(k8s_platform: ClusterPlatform) -> None:
    """Fifty stores at once on the simulated nodes (bench/k8s_provision.py: a
    thousand): the per-store control-plane time, first step start to last
    step end, and stores per minute."""
    p = k8s_platform
    api = p.admin()
    total = benchmark.count(50)
    names = [f"fleet-{n:04d}" for n in range(total)]
    for name in names:
        p.volume_for(name)
    started = time.monotonic()
    ids = []
    for name in names:
        resp = api.create_store(name)
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["id"])
    ready_after: dict[int, float] = {}
    deadline = time.monotonic() + max(900, total * 6)
    while len(ready_after) < len(ids):
        assert time.monotonic() < deadline, f"{len(ready_after)}/{total} ready"
        for s in _every_store(api, "ready"):
            if s["id"] in ids and s["id"] not in ready_after:
                ready_after[s["id"]] = time.monotonic() - started
        if len(ready_after) < len(ids):
            for s in _every_store(api, "failed"):
                assert s["id"] not in ids, s["failure_reason"]
        time.sleep(1)
    wall = time.monotonic() - started
    per_store = []
    for store_id in ids:
        steps = api.store(store_id)["steps"]
        spans = [
            (s["started_at"], s["finished_at"])
            for s in steps
            if s["operation"] == "provision" and s["started_at"] and s["finished_at"]
        ]
        first = min(_ts(a) for a, _ in spans)
        last = max(_ts(b) for _, b in spans)
        per_store.append(last - first)
    benchmark.record(
        "simulated nodes (kwok)",
        {
            "stores": len(ids),
            "worker_concurrency": int(p.procs.env.get("STOREFLEET_WORKER_CONCURRENCY", "3")),
            "wall_seconds": round(wall, 1),
            "stores_per_minute": round(len(ids) / wall * 60, 1),
        },
        per_store,
        "control_plane_seconds",
    )


def _every_store(api: Api, status: str) -> list[dict]:  # type: ignore[type-arg]
    stores: list[dict] = []  # type: ignore[type-arg]
    params: dict[str, str | int] = {"limit": 500, "status": status}
    while True:
        page = api.http.get("/api/stores", params=params).json()
        stores += page["items"]
        if page["next_cursor"] is None:
            return stores
        params["cursor"] = page["next_cursor"]


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_a_store_that_cannot_start_fails_with_the_clusters_reason(
    k8s_platform: ClusterPlatform, tmp_path: Path
) -> None:
    """A quota too small for the store's pods: the API server refuses them, and
    the store fails at its deadline with the refusal as the reason."""
    p = k8s_platform
    values = yaml.safe_load(Path(p.procs.env["STOREFLEET_K8S_STORE_VALUES"]).read_text())
    values["plans"] = {"small": {"quota": {"limits.memory": "1Mi", "requests.memory": "1Mi"}}}
    tiny = tmp_path / "tiny-quota.yaml"
    tiny.write_text(yaml.safe_dump(values))
    saved = dict(p.procs.env)
    p.procs.kill("worker", signal.SIGTERM)
    p.procs.env.update(STOREFLEET_K8S_STORE_VALUES=str(tiny), STOREFLEET_STEP_DEADLINE_SECONDS="15")
    p.procs.start("worker")
    try:
        api = p.admin()
        p.volume_for("no-room")
        store_id = api.create_store("no-room").json()["id"]
        failed = api.wait_for(store_id, "failed", timeout=120)
        reason = failed["failure_reason"]
        assert "not ready in time" in reason, reason
        assert "exceeded quota" in reason, reason
        assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
        api.wait_for(store_id, "deleted", timeout=120)
    finally:
        p.procs.kill("worker", signal.SIGTERM)
        p.procs.env.clear()
        p.procs.env.update(saved)
        p.procs.start("worker")
