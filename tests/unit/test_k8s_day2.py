"""The Kubernetes driver's day-2 steps against a fake API (the real node runs
them in the issue-10 suite): what a degraded store's reason says, how
suspension scales, and which steps it cannot do yet."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest
from kubernetes import client

from storefleet.config import Environment, Settings
from storefleet.drivers.base import (
    NotSupported,
    OperationInfo,
    StepContext,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.kubernetes import KubernetesDriver

STORE = StoreSnapshot(id=1, name="kube-shop", admin_email="a@example.com", uid="abcdefabcdef",
                      url="http://localhost:30080/")  # fmt: skip


class _Ctx(StepContext):
    def admin_password(self) -> str:
        return "x"

    def record(self, **fields: object) -> None:
        pass

    def event(self, message: str, level: str = "info") -> None:
        pass

    def should_stop(self) -> bool:
        return False


class _Core:
    def __init__(self, pods: list[Any]) -> None:
        self.pods = pods

    def list_namespaced_pod(self, ns: str, **kw: Any) -> Any:
        return NS(items=self.pods)

    def list_node(self) -> Any:
        return NS(items=[NS(metadata=NS(annotations={}))])  # a real node

    def read_node(self, name: str) -> Any:
        return NS(metadata=NS(name=name, annotations={}))  # a real node

    def list_namespaced_event(self, ns: str, **kw: Any) -> Any:
        now = dt.datetime.now(dt.UTC)
        return NS(
            items=[
                NS(
                    reason="BackOff",
                    message="Back-off restarting failed container",
                    last_timestamp=now - dt.timedelta(seconds=20),
                    event_time=None,
                    metadata=NS(creation_timestamp=now),
                ),
                NS(  # the install's, an hour ago: not why the store is down now
                    reason="FailedScheduling",
                    message="0/4 nodes are available",
                    last_timestamp=now - dt.timedelta(hours=1),
                    event_time=None,
                    metadata=NS(creation_timestamp=now),
                ),
            ]
        )


class _Apps:
    def __init__(self) -> None:
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.replicas = 1

    def read_namespaced_deployment(self, name: str, ns: str) -> Any:
        return NS(spec=NS(replicas=self.replicas, selector=NS(match_labels={"app": "web"})))

    def patch_namespaced_deployment(self, name: str, ns: str, body: dict[str, Any]) -> None:
        self.patches.append((name, ns, body))


@pytest.fixture
def driver(tmp_path: Path) -> KubernetesDriver:
    settings = Settings(env=Environment.test, data_dir=tmp_path, secret_key="k" * 40,
                        k8s_nodes_simulated=False)  # fmt: skip
    d = KubernetesDriver(settings, databases=object(), api_client=client.ApiClient())  # type: ignore[arg-type]
    crash = NS(name="wordpress", ready=False, restart_count=4,
               state=NS(waiting=NS(reason="CrashLoopBackOff"), terminated=None))  # fmt: skip
    pod = NS(
        metadata=NS(name="store-7d9", labels={"app": "store"}),
        status=NS(container_statuses=[crash]),
        spec=NS(containers=[NS(name="wordpress")], node_name="storefleet-node"),
    )
    d.cluster.core = _Core([pod])  # type: ignore[assignment]
    d.cluster.apps = _Apps()  # type: ignore[assignment]
    d.cluster.in_cluster = False
    return d


def test_a_failing_probe_says_what_the_pod_is_doing(driver: KubernetesDriver) -> None:
    with pytest.raises(Exception) as failed:
        driver.probe(STORE, timeout=1)  # nothing listens on that port here
    message = str(failed.value)
    assert "store-7d9: waiting (CrashLoopBackOff)" in message
    assert "4 restart(s)" in message
    assert "BackOff: Back-off restarting failed container" in message
    assert "FailedScheduling" not in message


def test_a_store_scaled_to_zero_says_so(driver: KubernetesDriver) -> None:
    driver.cluster.core.pods = []  # type: ignore[attr-defined]
    driver.cluster.apps.replicas = 0  # type: ignore[attr-defined]
    with pytest.raises(Exception) as failed:
        driver.probe(STORE, timeout=1)
    assert "no pod is running: its Deployment is scaled to 0" in str(failed.value)


def test_suspend_and_resume_scale_the_deployment(driver: KubernetesDriver) -> None:
    ctx = _Ctx(STORE, time.monotonic() + 10, OperationInfo(1, "suspend"))
    scale, stopped = driver.suspend_steps()
    scale.run(ctx)
    assert driver.cluster.apps.patches == [("store", "store-kube-shop", {"spec": {"replicas": 0}})]
    # Suspended only once the pod is gone: a stopping pod still serves.
    with pytest.raises(TransientError, match="still stopping: store-7d9"):
        stopped.run(_Ctx(STORE, time.monotonic() + 1.5, OperationInfo(1, "suspend")))
    driver.cluster.core.pods = []  # type: ignore[attr-defined]
    assert "no pod" in stopped.run(ctx).message
    driver.resume_steps()[0].run(ctx)
    assert driver.cluster.apps.patches[-1][2] == {"spec": {"replicas": 1}}


def test_what_it_cannot_do_yet_fails_with_the_reason(driver: KubernetesDriver) -> None:
    ctx = _Ctx(STORE, time.monotonic() + 10, OperationInfo(1, "upgrade"))
    with pytest.raises(NotSupported, match="store image per release"):
        driver.upgrade_steps()[0].run(ctx)


def test_a_clone_is_a_new_store_with_the_backup_put_in_and_adopted(
    driver: KubernetesDriver,
) -> None:
    steps = driver.provision_steps(clone=True)
    assert [s.name for s in steps] == [
        "database", "namespace", "release", "endpoint", "install", "rollout",
        "content", "data", "adopt", "upgrade", "restart", "restarted", "verify",
    ]  # fmt: skip
    # The password is kept until the clone's admin has it, and read from the
    # backup's scratch only by the steps that put it in.
    assert [s.name for s in steps if s.consumes_admin_password] == ["adopt"]
    assert [s.name for s in steps if s.reads_scratch] == ["content", "data"]
