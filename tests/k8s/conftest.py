"""Fixtures that give the k8s tests a real Kubernetes API server.

The cluster comes from, in order:
1. ``STOREFLEET_TEST_KUBECONFIG`` — any cluster (Docker Desktop, kind, k3d, ...);
2. the test environment already started by ``make k8s-up`` (``var/k8s/kubeconfig``);
3. the test environment started here from the binaries built by
   ``make k8s-testenv`` and the images of ``make images``, and stopped again
   when the session ends.
When none is available the suite is skipped with the command that enables
it, except under ``CI=true``, where a missing cluster fails the run.

The test environment has one real node (containerd, images built here) and
kwok's simulated nodes, tainted so that only workloads that tolerate them
(``Cluster.on_simulated_nodes()``: scale tests, and the chart tests whose
images need a stores database the node cannot reach yet) land there.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.conftest import not_here

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTENV_DIR = REPO_ROOT / "tools" / "k8s-testenv"
TESTENV_VAR = Path(os.environ.get("STOREFLEET_K8S_VAR", REPO_ROOT / "var" / "k8s"))
TESTENV_KUBECONFIG = TESTENV_VAR / "kubeconfig"
IMAGES_ENV = REPO_ROOT / "var" / "images.env"
# The test registry the node pulls from (tools/k8s-testenv/registry.env).
TEST_REGISTRY = f"127.0.0.1:{os.environ.get('STOREFLEET_REGISTRY_PORT', '15000')}"
REGISTRY_DIR = Path(os.environ.get("STOREFLEET_REGISTRY_DIR", REPO_ROOT / "var" / "registry"))
REGISTRY_LOG = REGISTRY_DIR / "run" / "registry.log"
NAMESPACE_LABEL = "storefleet.dev/test"
# The taint of the test environment's simulated nodes (tools/k8s-testenv/lib.sh).
SIMULATED_TAINT = "storefleet.dev/simulated"
# What a real cluster pulls for the generic test pods.
PUBLIC_IMAGES = {"pause": "registry.k8s.io/pause:3.10", "toolbox": "busybox:1.36"}


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A reachable cluster and the tools that talk to it."""

    kubeconfig: Path
    api: client.ApiClient
    kubectl: str
    helm: str
    # True for the test environment (tools/k8s-testenv): one real node and
    # kwok's simulated nodes, whose names and taint we know.
    simulated: bool
    # Helm keeps its config, cache and repositories here, not in the user's home.
    helm_home: Path
    # Image references by name (pause, toolbox, store, platform, mariadb,
    # redis): var/images.env on the test environment, public ones elsewhere.
    images: dict[str, str] = dataclasses.field(default_factory=dict)

    def image(self, name: str) -> str:
        """The image to run for ``name``; fails when the test environment lacks it."""
        if name in self.images:
            return self.images[name]
        if not self.simulated and name in PUBLIC_IMAGES:
            return PUBLIC_IMAGES[name]
        _unavailable(f"no {name} image: run `make images`")
        raise AssertionError("unreachable")

    def on_simulated_nodes(self) -> dict[str, Any]:
        """Helm values (nodeSelector + tolerations) that put a chart's pods on
        kwok's simulated nodes; empty on other clusters."""
        if not self.simulated:
            return {}
        return {
            "nodeSelector": {"type": "kwok"},
            "tolerations": [{"key": SIMULATED_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
        }

    def run(
        self, tool: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl or helm against this cluster (argument list, no shell)."""
        binary = {"kubectl": self.kubectl, "helm": self.helm}[tool]
        env = dict(os.environ)
        for var in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
            env[var] = str(self.helm_home / var.lower())
        result = subprocess.run(
            [binary, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if check and result.returncode != 0:
            pytest.fail(f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def bind_volume(self, name: str, namespace: str, claim: str, size: str = "10Gi") -> str:
        """A hostPath PersistentVolume reserved for one claim, for pods on
        simulated nodes (which the volume provisioner cannot serve). It carries
        the default StorageClass, which the claim gets too. The caller deletes it."""
        client.CoreV1Api(self.api).create_persistent_volume(
            client.V1PersistentVolume(
                metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: "true"}),
                spec=client.V1PersistentVolumeSpec(
                    capacity={"storage": size},
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=self._default_storage_class(),
                    persistent_volume_reclaim_policy="Retain",
                    host_path=client.V1HostPathVolumeSource(path=f"/tmp/{name}"),
                    claim_ref=client.V1ObjectReference(namespace=namespace, name=claim),
                ),
            )
        )
        return name

    def _default_storage_class(self) -> str | None:
        for sc in client.StorageV1Api(self.api).list_storage_class().items:
            annotations = sc.metadata.annotations or {}
            if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                return str(sc.metadata.name)
        return None

    def api_client_as(self, user: str) -> client.ApiClient:
        """An API client for the same cluster that impersonates ``user``."""
        impersonating = client.ApiClient(self.api.configuration)
        impersonating.set_default_header("Impersonate-User", user)
        return impersonating


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked k8s_last (the test of k8s-down) run after all the others."""
    items.sort(key=lambda item: item.get_closest_marker("k8s_last") is not None)


def _unavailable(message: str) -> NoReturn:
    not_here(f"k8s suite: {message}")


def _api_client(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def _answers(kubeconfig: Path) -> bool:
    if not kubeconfig.is_file():
        return False
    try:
        with _api_client(kubeconfig) as api:
            client.VersionApi(api).get_code(_request_timeout=3)
    except Exception:  # any failure means "not this cluster"; the caller falls back
        return False
    return True


def _testenv_bin() -> Path:
    out = subprocess.run(
        [str(TESTENV_DIR / "build.sh"), "--print-bin"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def _testenv_built() -> bool:
    return (
        subprocess.run([str(TESTENV_DIR / "build.sh"), "--check"], capture_output=True).returncode
        == 0
    )


# Whether this session started the test environment (the k8s-down test starts
# it again if it did not, so that a `make k8s-up` environment stays up).
_SESSION: dict[str, bool] = {}


def started_by_this_session() -> bool:
    return _SESSION.get("started_here", False)


def _testenv_images() -> dict[str, str]:
    """var/images.env (``make images``) as {"store": ref, ...}."""
    images = {}
    if IMAGES_ENV.is_file():
        for line in IMAGES_ENV.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.startswith("STOREFLEET_") and key.endswith("_IMAGE") and value:
                images[key.removeprefix("STOREFLEET_").removesuffix("_IMAGE").lower()] = value
    return images


def _tool(name: str) -> str:
    for candidate in (TESTENV_VAR / "bin" / name, _testenv_bin() / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        _unavailable(f"{name} not found; run `make k8s-testenv` or put {name} on PATH")
    return str(found)


# What the node said that explains most failed runs, printed after the tests
# when some failed (the test environment's logs go with `down.sh`).
_NODE_TROUBLE = re.compile(
    r"oom|evict|killing|probe failed|probe errored|sandbox|back-off restarting|"
    r"no space|disk pressure|memory pressure|exited with|nodenotready",
    re.IGNORECASE,
)
# Expected in every run: the tests' deliberately missing image, and the
# local-path helper pods that the node cannot read.
_NODE_NOISE = re.compile(r"not-on-this-node|helper-pod-|ContainerStatus for")
_DIAGNOSTICS: list[str] = []


def _node_diagnostics(lines_per_log: int = 15) -> list[str]:
    out: list[str] = []
    for name in ("kubelet", "kube-proxy", "containerd"):
        path = TESTENV_VAR / "logs" / f"{name}.log"
        if not path.is_file():
            continue
        with path.open(errors="replace") as f:
            hits = [
                line.rstrip()[:300]
                for line in f
                if line[:1] in "EW" or "level=" in line
                if _NODE_TROUBLE.search(line) and not _NODE_NOISE.search(line)
            ]
        out.append(f"--- {path} (last {min(len(hits), lines_per_log)} of {len(hits)})")
        out.extend(hits[-lines_per_log:])
    return out


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _DIAGNOSTICS:
        terminalreporter.section("the test node's warnings and errors")
        for line in _DIAGNOSTICS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def k8s(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    external = os.environ.get("STOREFLEET_TEST_KUBECONFIG")
    started_here = False
    if external:
        kubeconfig = Path(external)
        if not _answers(kubeconfig):
            pytest.fail(f"STOREFLEET_TEST_KUBECONFIG={external} does not answer", pytrace=False)
        simulated = False
    elif _answers(TESTENV_KUBECONFIG):
        kubeconfig, simulated = TESTENV_KUBECONFIG, True
    else:
        if not _testenv_built():
            _unavailable(
                "no cluster: the test environment is not built (run `make k8s-testenv`, "
                "or set STOREFLEET_TEST_KUBECONFIG to a cluster's kubeconfig)"
            )
        if not IMAGES_ENV.is_file():
            _unavailable("no images for the test node: run `make images`")
        up = subprocess.run(
            [str(TESTENV_DIR / "up.sh")], capture_output=True, text=True, timeout=180
        )
        if up.returncode != 0:
            pytest.fail(f"tools/k8s-testenv/up.sh failed:\n{up.stderr}", pytrace=False)
        started_here = True
        kubeconfig, simulated = TESTENV_KUBECONFIG, True

    api = _api_client(kubeconfig)
    _SESSION["started_here"] = started_here
    try:
        yield Cluster(
            kubeconfig,
            api,
            kubectl=_tool("kubectl"),
            helm=_tool("helm"),
            simulated=simulated,
            helm_home=tmp_path_factory.mktemp("helm"),
            images=_testenv_images() if simulated else {},
        )
    finally:
        api.close()
        if request.session.testsfailed and simulated:
            _DIAGNOSTICS.extend(_node_diagnostics())
        if started_here:
            subprocess.run(
                [str(TESTENV_DIR / "down.sh")], check=True, capture_output=True, timeout=120
            )


@pytest.fixture
def namespace(k8s: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    base = request.node.name.removeprefix("test_").replace("_", "-").lower()[:40].strip("-")
    name = f"sft-{base}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s.api)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={NAMESPACE_LABEL: "true"})
        )
    )
    # Pods are rejected until the controller manager has created the default
    # ServiceAccount, so tests start only once it exists.
    wait_until(
        core.list_namespaced_service_account,
        lambda sas: any(sa.metadata.name == "default" for sa in sas),
        namespace=name,
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def wait() -> Callable[..., list[Any]]:
    """The watch-with-deadline helper (a fixture, so test modules need no imports from here)."""
    return wait_until


def wait_until(
    list_func: Callable[..., Any],
    predicate: Callable[[list[Any]], bool],
    *,
    timeout: float,
    what: str,
    **kwargs: Any,
) -> list[Any]:
    """Watch a list endpoint until ``predicate(items)`` holds, or fail at the deadline.

    The predicate sees the full current set of objects after every event, so
    it can express conditions over many objects ("3 pods Ready"). Watches are
    resumed from the last resourceVersion until the deadline passes.
    """
    deadline = time.monotonic() + timeout
    listing = list_func(**kwargs)
    items = {obj.metadata.uid: obj for obj in listing.items}
    if predicate(list(items.values())):
        return list(items.values())
    resource_version = listing.metadata.resource_version
    while (remaining := deadline - time.monotonic()) > 0:
        w = watch.Watch()
        try:
            for event in w.stream(
                list_func,
                resource_version=resource_version,
                timeout_seconds=max(1, int(remaining)),
                _request_timeout=remaining + 5,
                **kwargs,
            ):
                obj = event["object"]
                resource_version = obj.metadata.resource_version
                if event["type"] == "DELETED":
                    items.pop(obj.metadata.uid, None)
                else:
                    items[obj.metadata.uid] = obj
                if predicate(list(items.values())):
                    return list(items.values())
                if time.monotonic() >= deadline:
                    break
        except ApiException as exc:
            if exc.status != 410:  # 410 Gone: relist and resume
                raise
            listing = list_func(**kwargs)
            items = {obj.metadata.uid: obj for obj in listing.items}
            resource_version = listing.metadata.resource_version
        finally:
            w.stop()
    pytest.fail(
        f"timed out after {timeout} s waiting for {what}; last seen: {_describe(items.values())}"
    )


def _describe(objs: Any) -> str:
    return (
        ", ".join(f"{o.metadata.name}:{getattr(o, 'status', None) and _phase(o)}" for o in objs)
        or "nothing"
    )


def _phase(obj: Any) -> str:
    status = obj.status
    return str(getattr(status, "phase", None) or getattr(status, "conditions", None) or "")


def pod_log(core: client.CoreV1Api, name: str, namespace: str, **kwargs: Any) -> str:
    """A pod's log as text. Read raw: kubernetes 36's client returns the repr
    of the bytes ("b'...\\n'") when it deserialises a log itself."""
    resp = core.read_namespaced_pod_log(name, namespace, _preload_content=False, **kwargs)
    return str(resp.data.decode("utf-8", "replace"))
