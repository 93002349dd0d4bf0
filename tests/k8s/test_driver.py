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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy import create_engine, text

from storefleet.config import Environment, Settings
from tests.conftest import free_port
from tests.k8s import benchmark
from tests.k8s.conftest import Cluster
from tests.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Api,
    PlatformProcesses,
    leave_nothing_behind,
    prepare,
    process_env,
)

REPO = Path(__file__).resolve().parents[2]
PLATFORM_CHART = REPO / "charts" / "storefleet"
STORE_CHART = REPO / "charts" / "woocommerce-store"


@dataclass
class K8sPlatform:
    cluster: Cluster
    namespace: str
    release: str
    prefix: str
    procs: PlatformProcesses
    settings: Settings
    helm_log: Path
    worker_kubeconfig: Path
    admin_core: client.CoreV1Api
    stores_db_url: str
    volumes: list[str] = field(default_factory=list)

    def admin(self) -> Api:
        return Api.login(self.procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)

    def store_ns(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def volume_for(self, name: str) -> None:
        """No storage provisioner on simulated nodes: a volume per store claim."""
        volume = self.cluster.bind_volume(
            f"{self.release}-{name}", self.store_ns(name), "store-data"
        )
        self.volumes.append(volume)

    def db_state(self, uid: str) -> tuple[int, int, list[str]]:
        """The store's database and user, named from its uid (storedb)."""
        name = f"{self.settings.stores_db_prefix}{uid}"
        engine = create_engine(self.stores_db_url)
        with engine.connect() as conn:
            dbs = conn.execute(
                text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n"),
                {"n": name},
            ).scalar_one()
            users = conn.execute(
                text("SELECT COUNT(*) FROM mysql.user WHERE User = :n"), {"n": name}
            ).scalar_one()
            grants = (
                [r[0] for r in conn.execute(text(f"SHOW GRANTS FOR '{name}'@'%'"))] if users else []
            )
        engine.dispose()
        return int(dbs), int(users), grants


def _worker_kubeconfig(k8s, namespace: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(k8s.api)
    deadline = time.monotonic() + 30
    while True:
        try:
            token = core.create_namespaced_service_account_token(
                "storefleet-worker",
                namespace,
                client.AuthenticationV1TokenRequest(
                    spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=7200)
                ),
            ).status.token
            break
        except ApiException as exc:  # the ServiceAccount may not exist yet
            assert exc.status == 404 and time.monotonic() < deadline, exc
            time.sleep(0.5)
    cfg = k8s.api.configuration
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": cfg.host, "certificate-authority": cfg.ssl_ca_cert},
            }
        ],
        "users": [{"name": "worker", "user": {"token": token}}],
        "contexts": [{"name": "worker", "context": {"cluster": "test", "user": "worker"}}],
        "current-context": "worker",
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)


@pytest.fixture(scope="module")
def k8s_platform(k8s, mariadb_admin_url: str, tmp_path_factory) -> Iterator[K8sPlatform]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("k8s-driver")
    suffix = uuid.uuid4().hex[:6]
    namespace, release, prefix = f"sfdrv-{suffix}", f"dr{suffix}", f"d{suffix}-"
    core = client.CoreV1Api(k8s.api)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=namespace, labels={"storefleet.dev/test": "true"})
        )
    )
    # The platform's own pods and the stores go to the simulated nodes (scale
    # and control-plane behaviour); test_stores.py runs stores on the real node.
    placement = k8s.on_simulated_nodes()
    (tmp / "overrides.yaml").write_text(
        yaml.safe_dump({"rbac": {"storeNamespacePrefix": prefix}, **placement})
    )
    k8s.run(
        "helm", "upgrade", "--install", release, str(PLATFORM_CHART), "--namespace", namespace,
        "-f", str(PLATFORM_CHART / "values-local.yaml"), "-f", str(tmp / "overrides.yaml"),
    )  # fmt: skip
    worker_kubeconfig = tmp / "worker.kubeconfig"
    _worker_kubeconfig(k8s, namespace, worker_kubeconfig)

    # The store defaults the chart gives its workers, as the worker reads them.
    defaults = yaml.safe_load(
        core.read_namespaced_config_map(f"{release}-store-values", namespace).data[
            "store-values.yaml"
        ]
    )
    (tmp / "store-values.yaml").write_text(yaml.safe_dump({**defaults, **placement}))

    helm_log = tmp / "helm-argv.log"
    spy = tmp / "helm"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{helm_log}"\nexec "{k8s.helm}" "$@"\n')
    spy.chmod(0o755)

    data = tmp / "var"
    settings = Settings(
        env=Environment.test,
        data_dir=data,
        secret_key=secrets.token_urlsafe(48),
        stores_db_url=mariadb_admin_url,
        stores_db_prefix=f"k{suffix}_",
    )
    prepare(settings).close()
    settings = settings.model_copy(
        update={"lease_seconds": 5, "requeue_after_seconds": 3, "reconcile_interval_seconds": 1,
                "step_deadline_seconds": 120}
    )  # fmt: skip
    env = process_env(
        settings,
        STOREFLEET_DRIVER="kubernetes",
        KUBECONFIG=str(worker_kubeconfig),
        STOREFLEET_HELM_BINARY=str(spy),
        HELM_CONFIG_HOME=str(tmp / "helm-config"),
        HELM_CACHE_HOME=str(tmp / "helm-cache"),
        HELM_DATA_HOME=str(tmp / "helm-data"),
        STOREFLEET_K8S_PLATFORM_NAMESPACE=namespace,
        STOREFLEET_K8S_STORE_NAMESPACE_PREFIX=prefix,
        STOREFLEET_K8S_STORE_ACCESS="perNamespace",
        STOREFLEET_K8S_STORE_ROLE=f"{release}-store-manager",
        STOREFLEET_K8S_WORKER_SERVICE_ACCOUNT="storefleet-worker",
        STOREFLEET_K8S_STORE_VALUES=str(tmp / "store-values.yaml"),
        STOREFLEET_K8S_CHART=str(STORE_CHART),
        STOREFLEET_K8S_STORE_DOMAIN="localhost",
        STOREFLEET_K8S_STORE_URL_PORT="30080",
    )
    (tmp / "logs").mkdir()
    procs = PlatformProcesses(env, tmp / "logs", free_port())
    platform = K8sPlatform(
        k8s, namespace, release, prefix, procs, settings, helm_log, worker_kubeconfig, core,
        mariadb_admin_url,
    )  # fmt: skip
    procs.start("api")
    procs.start("worker")
    try:
        yield platform
    finally:
        procs.stop()
        for ns in core.list_namespace(label_selector="storefleet.io/store").items:
            if ns.metadata.name.startswith(prefix):
                core.delete_namespace(ns.metadata.name)
        k8s.run("helm", "uninstall", release, "--namespace", namespace, check=False)
        core.delete_namespace(namespace)
        for volume in platform.volumes:
            try:
                core.delete_persistent_volume(volume)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        leave_nothing_behind([data], mariadb_admin_url, settings.stores_db_prefix)


def _exists(call, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        call(*args)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_a_store_is_provisioned_into_its_namespace_and_deleted(k8s_platform: K8sPlatform) -> None:
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
    core, apps = p.admin_core, client.AppsV1Api(p.cluster.api)  # type: ignore[attr-defined]
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
    dbs, users, grants = p.db_state(uid)
    assert (dbs, users) == (1, 1)
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
    assert p.db_state(uid)[:2] == (0, 0)
    assert not _exists(core.read_namespaced_secret, f"store-{uid}-credentials", p.namespace)
    assert "uninstall store" in p.helm_log.read_text()


def test_a_killed_worker_leaves_one_of_everything(k8s_platform: K8sPlatform) -> None:
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
        for n in p.admin_core.list_namespace(label_selector=f"storefleet.io/store={store_id}").items
    ]
    assert mine == [ns]
    releases = p.cluster.run("helm", "list", "--namespace", ns, "--short").stdout.split()  # type: ignore[attr-defined]
    assert releases == ["store"]
    assert p.db_state(api.store(store_id)["uid"])[:2] == (1, 1)


def test_the_worker_identity_is_denied_what_it_must_not_touch(k8s_platform: K8sPlatform) -> None:
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


def test_fifty_stores_at_once(k8s_platform: K8sPlatform) -> None:
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
    while True:
        page = api.http.get(
            "/api/stores", params={"limit": 500, "offset": len(stores), "status": status}
        ).json()
        stores += page["items"]
        if len(stores) >= page["total"] or not page["items"]:
            return stores


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_a_store_that_cannot_start_fails_with_the_clusters_reason(
    k8s_platform: K8sPlatform, tmp_path: Path
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
