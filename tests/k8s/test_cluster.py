"""The test environment is the pinned upstream release; its simulated nodes are
Ready and tainted so that only scale tests land on them."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from tests.conftest import not_here
from tests.k8s.conftest import SIMULATED_TAINT

VERSIONS = Path(__file__).resolve().parents[2] / "tools" / "k8s-testenv" / "versions.env"


def _pinned(name: str) -> str:
    for line in VERSIONS.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} missing from {VERSIONS}")


def test_test_environment_runs_the_pinned_release_with_ready_tainted_simulated_nodes(k8s):
    if not k8s.simulated:
        not_here("checks the built test environment; STOREFLEET_TEST_KUBECONFIG points elsewhere")
    assert client.VersionApi(k8s.api).get_code().git_version == _pinned("KUBERNETES_VERSION")
    nodes = client.CoreV1Api(k8s.api).list_node(label_selector="type=kwok").items
    assert sorted(n.metadata.name for n in nodes) == ["kwok-node-1", "kwok-node-2", "kwok-node-3"]
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}.get("Ready")
        assert ready == "True", f"{node.metadata.name} Ready={ready}"
        taints = {(t.key, t.effect) for t in node.spec.taints or []}
        assert (SIMULATED_TAINT, "NoSchedule") in taints, f"{node.metadata.name}: {taints}"
