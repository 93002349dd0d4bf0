"""`make k8s-down` leaves nothing behind (issue 8, e): no process, mount,
iptables chain, ipset, bridge, veth or network namespace of the test node,
and no test registry (issue 18; its data stays for the next up).
The checks read the machine directly (/proc, iptables, ip), not down.sh's
own report. Runs last: it stops the environment (and starts it again when
the session found it running)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client

from tests.conftest import not_here
from tests.k8s.conftest import (
    REGISTRY_DIR,
    TEST_REGISTRY,
    TESTENV_DIR,
    TESTENV_VAR,
    Cluster,
    started_by_this_session,
)

PREFIXES = ("KUBE-", "CNI-", "STOREFLEET-")


def _sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def _our_processes() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"{TESTENV_VAR}/" in cmdline:
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _traefik() -> list[str]:
    """The ingress controller's processes (a pod: its command line names no path of ours)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if argv0 == "/traefik":
            found.append(proc.name)
    return found


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _ingress_answers() -> bool:
    return _answers(30080)


def _registry() -> list[str]:
    """The test registry's processes (docker-registry serving our config)."""
    config = str(REGISTRY_DIR / "run" / "config.yml")
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if argv[0].endswith("docker-registry") and config in argv:
            found.append(proc.name)
    return found


def _our_mounts() -> list[str]:
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(f"{TESTENV_VAR}/")
    ]


def _chains() -> list[str]:
    chains = []
    for table in ("filter", "nat", "mangle", "raw"):
        for line in _sh("iptables", "-t", table, "-S").splitlines():
            parts = line.split()
            if parts[:1] == ["-N"] and parts[1].startswith(PREFIXES):
                chains.append(f"{table}/{parts[1]}")
    return chains


def _ipsets() -> list[str]:
    return [s for s in _sh("ipset", "list", "-n").split() if s.startswith(("KUBE-", "kube-router"))]


def _links() -> set[str]:
    return {line.split(": ")[1].split("@")[0] for line in _sh("ip", "-o", "link").splitlines()}


@pytest.mark.k8s_last
def test_k8s_down_leaves_no_process_mount_chain_bridge_veth_or_netns(k8s: Cluster, wait):
    if not k8s.simulated:
        not_here("stops the test environment; STOREFLEET_TEST_KUBECONFIG points elsewhere")
    # Something on the node to clean up: a pod with a provisioned volume and
    # a Secret (tmpfs) volume, so that there are mounts, a veth and a netns.
    core = client.CoreV1Api(k8s.api)
    namespace = f"sft-teardown-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    wait(
        core.list_namespaced_service_account,
        lambda sas: any(sa.metadata.name == "default" for sa in sas),
        namespace=namespace,
        timeout=30,
        what="the default ServiceAccount",
    )
    core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "v"})
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="data"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        ),
    )
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="busy"),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name="c",
                        image=k8s.image("toolbox"),
                        image_pull_policy="IfNotPresent",
                        command=["sleep", "3600"],
                        volume_mounts=[
                            client.V1VolumeMount(name="data", mount_path="/data"),
                            client.V1VolumeMount(name="s", mount_path="/s"),
                        ],
                    )
                ],
                volumes=[
                    client.V1Volume(
                        name="data",
                        persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
                            claim_name="data"
                        ),
                    ),
                    client.V1Volume(name="s", secret=client.V1SecretVolumeSource(secret_name="s")),
                ],
            ),
        ),
    )
    wait(
        core.list_namespaced_pod,
        lambda ps: any(p.status.phase == "Running" for p in ps),
        namespace=namespace,
        timeout=90,
        what="pod busy to run",
    )
    # What the running environment holds, so that the checks below are not vacuous.
    bridge = "sfbr0"
    veths = {
        line.split(": ")[1].split("@")[0]
        for line in _sh("ip", "-o", "link", "show", "master", bridge).splitlines()
    }
    forward_before = (TESTENV_VAR / "node" / "ip_forward.before").read_text().strip()
    assert _our_processes() and _our_mounts() and veths and _chains(), "nothing to clean up?"
    assert _traefik() and _ingress_answers(), "the ingress controller is not running"
    registry_port = int(TEST_REGISTRY.rsplit(":", 1)[1])
    assert _registry() and _answers(registry_port), "the test registry is not running"
    netns = [m for m in _our_mounts() if "netns" in m]
    assert netns, f"no pod network namespace among {_our_mounts()}"

    started = time.monotonic()
    down = subprocess.run(
        [str(TESTENV_DIR / "down.sh")], capture_output=True, text=True, timeout=180
    )
    seconds = time.monotonic() - started
    try:
        assert down.returncode == 0, down.stderr
        print(f"k8s-down took {seconds:.1f} s")
        assert _our_processes() == []
        assert _traefik() == [] and not _ingress_answers(), "the ingress controller is left"
        assert _registry() == [] and not _answers(registry_port), "the test registry is left"
        # Its data stays: the next up pushes nothing that is there.
        repositories = REGISTRY_DIR / "data" / "docker" / "registry" / "v2" / "repositories"
        assert any(repositories.iterdir())
        assert _our_mounts() == []
        assert _chains() == []
        assert _ipsets() == []
        links = _links()
        assert bridge not in links
        assert not veths & links, f"veths left: {veths & links}"
        for path in netns:
            assert not Path(path).exists(), f"network namespace {path} left"
        assert not any(name.startswith("cni-") for name in _sh("ip", "netns", "list").split())
        assert not Path("/sys/fs/cgroup/memory/kubepods").exists()
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == forward_before
        assert not TESTENV_VAR.exists()
    finally:
        if not started_by_this_session():
            # The environment was up before the session (make k8s-up): bring it back.
            subprocess.run([str(TESTENV_DIR / "up.sh")], capture_output=True, timeout=300)
