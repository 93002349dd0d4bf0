"""The platform on the test cluster, as the Kubernetes suites run it: the
platform chart installed for its RBAC and admission policy (and, on the real
node, the stores' MariaDB), and this machine's API and worker processes
running as the chart's worker ServiceAccount (a token of its own, not admin
rights), with a helm that logs every call and can be told to die in the
middle of a release. test_driver.py runs it with stores on kwok's simulated
nodes, test_stores.py with stores on the real node."""

from __future__ import annotations

import secrets
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from storefleet.config import Environment, Settings
from tests.conftest import free_port
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

# Logs every call to $HELM_LOG. Told a namespace ($KILL_HELM_NAMESPACE), it is
# SIGKILLed once (the mark $KILL_HELM_MARK) as soon as the release there is
# pending, as a worker's helm would be by the OOM killer.
HELM_SPY = """#!/bin/bash
printf '%s\\n' "$*" >> "$HELM_LOG"
target=" --namespace ${KILL_HELM_NAMESPACE:-none} "
if [[ -n "${KILL_HELM_NAMESPACE:-}" && "$1" == upgrade && " $* " == *"${target}"* \\
      && ! -e "$KILL_HELM_MARK" ]]; then
    touch "$KILL_HELM_MARK"
    # --wait keeps helm in the middle of the release long enough to be killed there.
    "$REAL_HELM" "$@" --wait --timeout 10m &
    pid=$!
    for _ in $(seq 1 600); do
        if "$REAL_KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$KILL_HELM_NAMESPACE" get secret \\
            -l owner=helm,status=pending-install -o name 2>/dev/null | grep -q .; then
            kill -9 "$pid"
            echo "killed helm (pid $pid) in the middle of the release" >> "$HELM_LOG"
            kill -9 $$  # the driver sees what it would see of a killed helm
        fi
        sleep 0.1
    done
    wait "$pid"
    exit $?
fi
exec "$REAL_HELM" "$@"
"""


@dataclass
class ClusterPlatform:
    cluster: Cluster
    namespace: str
    release: str
    prefix: str
    procs: PlatformProcesses
    settings: Settings
    helm_log: Path
    worker_kubeconfig: Path
    stores_db_url: str
    store_values: Path
    tmp: Path
    volumes: list[str] = field(default_factory=list)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.cluster.api)

    def admin(self) -> Api:
        return Api.login(self.procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)

    def store_ns(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def db_name(self, uid: str) -> str:
        return f"{self.settings.stores_db_prefix}{uid}"

    def restart_worker(self, **env: str | None) -> None:
        self.procs.kill("worker", signal.SIGTERM)
        for key, value in env.items():
            if value is None:
                self.procs.env.pop(key, None)
            else:
                self.procs.env[key] = value
        self.procs.start("worker")

    def volume_for(self, name: str) -> None:
        """No storage provisioner on simulated nodes: a volume per store claim."""
        volume = self.cluster.bind_volume(
            f"{self.release}-{name}", self.store_ns(name), "store-data"
        )
        self.volumes.append(volume)


def write_worker_kubeconfig(k8s: Cluster, namespace: str, path: Path) -> None:
    """A kubeconfig with a token of the chart's worker ServiceAccount."""
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


@dataclass(frozen=True)
class Recipe:
    """How a suite wants its platform: names, the chart's values, where the
    stores' database is, the worker's timings and environment."""

    name: str  # short: namespaces, releases and prefixes are made from it
    namespace_labels: dict[str, str]
    chart_overrides: dict[str, Any]
    #: (core API, platform namespace, release) → the stores' database admin URL.
    stores_db: Callable[[client.CoreV1Api, str, str], str]
    timings: dict[str, float]
    env: dict[str, str] = field(default_factory=dict)
    store_values_extra: dict[str, Any] = field(default_factory=dict)
    worker_wait: float = 60
    #: Drop what the platform made on a stores' server on this machine.
    cleanup_stores_db: bool = False
    #: The stores' database is the chart's own (a pod): store pods reach it by
    #: its Service name, not by the address this machine's platform uses.
    in_cluster_stores_db: bool = False


@contextmanager
def platform_on_cluster(k8s: Cluster, tmp: Path, recipe: Recipe) -> Iterator[ClusterPlatform]:
    suffix = uuid.uuid4().hex[:6]
    letter = recipe.name[0]
    namespace, release = f"sf{recipe.name}-{suffix}", f"{recipe.name[:2]}{suffix}"
    prefix = f"{letter}{suffix}-"
    core = client.CoreV1Api(k8s.api)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=namespace, labels={"storefleet.dev/test": "true", **recipe.namespace_labels}
            )
        )
    )
    platform: ClusterPlatform | None = None
    try:
        overrides = {"rbac": {"storeNamespacePrefix": prefix}, **recipe.chart_overrides}
        (tmp / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        k8s.run(
            "helm", "upgrade", "--install", release, str(PLATFORM_CHART), "--namespace", namespace,
            "-f", str(PLATFORM_CHART / "values-local.yaml"), "-f", str(tmp / "overrides.yaml"),
        )  # fmt: skip
        stores_db_url = recipe.stores_db(core, namespace, release)
        platform = _platform(k8s, tmp, recipe, namespace, release, prefix, stores_db_url, suffix)
        platform.procs.start("api")
        platform.procs.start("worker", wait=recipe.worker_wait)
        yield platform
    finally:
        if platform is not None:
            platform.procs.stop()
        for ns in core.list_namespace(label_selector="storefleet.io/store").items:
            if ns.metadata.name.startswith(prefix):
                core.delete_namespace(ns.metadata.name)
        k8s.run("helm", "uninstall", release, "--namespace", namespace, check=False)
        core.delete_namespace(namespace)
        for volume in platform.volumes if platform else []:
            try:
                core.delete_persistent_volume(volume)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        if platform is not None and recipe.cleanup_stores_db:
            leave_nothing_behind(
                [platform.settings.data_path], platform.stores_db_url,
                platform.settings.stores_db_prefix,
            )  # fmt: skip


def _platform(
    k8s: Cluster, tmp: Path, recipe: Recipe, namespace: str, release: str, prefix: str,
    stores_db_url: str, suffix: str,
) -> ClusterPlatform:  # fmt: skip
    core = client.CoreV1Api(k8s.api)
    worker_kubeconfig = tmp / "worker.kubeconfig"
    write_worker_kubeconfig(k8s, namespace, worker_kubeconfig)
    # The store defaults the chart gives its workers, as the worker reads them.
    defaults = yaml.safe_load(
        core.read_namespaced_config_map(f"{release}-store-values", namespace).data[
            "store-values.yaml"
        ]
    )
    store_values = tmp / "store-values.yaml"
    store_values.write_text(yaml.safe_dump({**defaults, **recipe.store_values_extra}))
    helm_log = tmp / "helm-argv.log"
    spy = tmp / "helm"
    spy.write_text(HELM_SPY)
    spy.chmod(0o755)
    settings = Settings(
        env=Environment.test,
        data_dir=tmp / "var",
        secret_key=secrets.token_urlsafe(48),
        stores_db_url=stores_db_url,
        stores_db_prefix=f"{recipe.name[0]}{suffix}_",
    )
    prepare(settings).close()
    settings = settings.model_copy(update=dict(recipe.timings))
    env = process_env(
        settings,
        STOREFLEET_DRIVER="kubernetes",
        KUBECONFIG=str(worker_kubeconfig),
        STOREFLEET_HELM_BINARY=str(spy),
        HELM_LOG=str(helm_log),
        REAL_HELM=k8s.helm,
        REAL_KUBECTL=k8s.kubectl,
        ADMIN_KUBECONFIG=str(k8s.kubeconfig),
        HELM_CONFIG_HOME=str(tmp / "helm-config"),
        HELM_CACHE_HOME=str(tmp / "helm-cache"),
        HELM_DATA_HOME=str(tmp / "helm-data"),
        STOREFLEET_K8S_PLATFORM_NAMESPACE=namespace,
        STOREFLEET_K8S_STORE_NAMESPACE_PREFIX=prefix,
        STOREFLEET_K8S_STORE_ACCESS="perNamespace",
        STOREFLEET_K8S_STORE_ROLE=f"{release}-store-manager",
        STOREFLEET_K8S_WORKER_SERVICE_ACCOUNT="storefleet-worker",
        STOREFLEET_K8S_STORE_VALUES=str(store_values),
        STOREFLEET_K8S_CHART=str(STORE_CHART),
        STOREFLEET_K8S_STORE_DOMAIN="localhost",
        **recipe.env,
    )
    if recipe.in_cluster_stores_db:
        env["STOREFLEET_K8S_STORES_DB_HOST"] = (
            f"{release}-stores-mysql.{namespace}.svc.cluster.local"
        )
    (tmp / "logs").mkdir()
    procs = PlatformProcesses(env, tmp / "logs", free_port())
    return ClusterPlatform(
        k8s, namespace, release, prefix, procs, settings, helm_log, worker_kubeconfig,
        stores_db_url, store_values, tmp,
    )  # fmt: skip
