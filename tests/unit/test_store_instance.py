"""Store namespaces carry the platform release's instance, and
`deploy.sh --uninstall --purge-stores` deletes only that release's stores.

deploy.sh runs against stand-in `kubectl` and `helm` commands that record
what they are asked (the real cluster is tests/k8s's)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from storefleet.config import Environment, Settings
from storefleet.drivers.base import StepContext, StoreSnapshot
from storefleet.drivers.kubernetes import KubernetesDriver
from storefleet.drivers.kubernetes.names import INSTANCE_LABEL
from storefleet.names import new_store_uid
from tests.conftest import REPO

_KUBECTL = r"""#!/bin/sh
echo "kubectl $*" >> "$CALLS"
case "$*" in
    "config current-context") echo kind-test ;;
    "get deployment "*-worker*)
        [ -n "$WORKER_INSTANCE" ] || exit 1
        printf '%s' "$WORKER_INSTANCE" ;;
    "get namespace "*) printf 'namespace/store-a\n' ;;
esac
exit 0
"""
_HELM = """#!/bin/sh
echo "helm $*" >> "$CALLS"
exit 0
"""


def _deploy(tmp_path: Path, *args: str, **env: str) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, script in (("kubectl", _KUBECTL), ("helm", _HELM)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    done = subprocess.run(
        [str(REPO / "deploy.sh"), *args],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return calls.read_text().splitlines()


def _deletes(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("kubectl delete namespace -l")]


def test_purge_stores_deletes_only_this_releases_namespaces(tmp_path: Path) -> None:
    calls = _deploy(
        tmp_path, "--uninstall", "--purge-stores",
        STOREFLEET_NAMESPACE="shop-prod", STOREFLEET_RELEASE="sf",
        WORKER_INSTANCE="shop-prod.sf",
    )  # fmt: skip
    assert _deletes(calls) == [
        "kubectl delete namespace -l storefleet.io/store,storefleet.io/instance=shop-prod.sf "
        "--wait=true --timeout=10m"
    ]
    # The instance was read before the release was uninstalled.
    reads = [i for i, c in enumerate(calls) if c.startswith("kubectl get deployment sf-worker")]
    uninstall = next(i for i, c in enumerate(calls) if c.startswith("helm uninstall sf"))
    assert reads and reads[0] < uninstall


def test_purge_stores_falls_back_to_the_charts_default_instance(tmp_path: Path) -> None:
    # The release is already gone: the chart's default, <namespace>.<release>.
    calls = _deploy(
        tmp_path, "--uninstall", "--purge-stores",
        STOREFLEET_NAMESPACE="storefleet", STOREFLEET_RELEASE="storefleet", WORKER_INSTANCE="",
    )  # fmt: skip
    assert _deletes(calls) == [
        "kubectl delete namespace -l storefleet.io/store,storefleet.io/instance="
        "storefleet.storefleet --wait=true --timeout=10m"
    ]


def test_uninstall_without_purge_deletes_no_store_namespace(tmp_path: Path) -> None:
    calls = _deploy(tmp_path, "--uninstall", WORKER_INSTANCE="storefleet.storefleet")
    assert _deletes(calls) == []
    assert "kubectl get namespace -l storefleet.io/store,storefleet.io/instance=" \
        "storefleet.storefleet -o name" in calls  # fmt: skip


class _Core:
    """The few CoreV1Api calls of the namespace step."""

    def __init__(self) -> None:
        self.created: list[Any] = []

    def read_namespace(self, name: str) -> None:
        raise ApiException(status=404)

    def create_namespace(self, body: Any) -> None:
        self.created.append(body)

    def read_namespaced_secret(self, name: str, namespace: str) -> object:
        return object()  # the admin Secret exists already


class _Context(StepContext):
    def admin_password(self) -> str:
        return "unused"

    def record(self, **fields: object) -> None:
        pass

    def event(self, message: str, level: str = "info") -> None:
        pass

    def should_stop(self) -> bool:
        return False


@pytest.mark.parametrize("instance", ["storefleet", "shop-prod.sf"])
def test_store_namespaces_are_labelled_with_the_instance(tmp_path: Path, instance: str) -> None:
    settings = Settings(env=Environment.test, data_dir=tmp_path, k8s_instance=instance)
    driver = KubernetesDriver(settings, databases=object(), api_client=client.ApiClient())  # type: ignore[arg-type]
    core = _Core()
    driver.cluster.core = core  # type: ignore[assignment]
    store = StoreSnapshot(id=7, name="shop", admin_email="a@example.com", uid=new_store_uid())
    driver.namespaces.namespace_step(_Context(store, deadline=float("inf")))
    (namespace,) = core.created
    assert namespace.metadata.labels[INSTANCE_LABEL] == instance
    assert namespace.metadata.labels["storefleet.io/store"] == "7"
    assert namespace.metadata.labels["storefleet.io/store-uid"] == store.uid


def test_the_instance_is_a_label_value() -> None:
    with pytest.raises(ValueError, match="k8s_instance"):
        Settings(k8s_instance="not a label")
    with pytest.raises(ValueError, match="k8s_instance"):
        Settings(k8s_instance="x" * 64)
