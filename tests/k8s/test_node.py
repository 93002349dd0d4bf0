"""The test environment's real node (issue 8): containerd runs the images
built by ``make images``, the bridge network carries pod and Service traffic,
NodePorts answer on 127.0.0.1, CoreDNS resolves Services, local-path
provisions volumes and kube-router enforces NetworkPolicies.

Every test here needs the real node of tools/k8s-testenv (its images); on
another cluster they are skipped, since its nodes could not run those images.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.conftest import not_here
from tests.k8s.conftest import Cluster, pod_log

VERSIONS = Path(__file__).resolve().parents[2] / "tools" / "k8s-testenv" / "versions.env"


def _pinned(name: str) -> str:
    for line in VERSIONS.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} missing from {VERSIONS}")


@pytest.fixture
def node(k8s: Cluster) -> client.V1Node:
    """The one real node: Ready, not simulated by kwok."""
    if not k8s.simulated:
        not_here("runs the images of `make images` on the test environment's real node")
    real = [
        n
        for n in client.CoreV1Api(k8s.api).list_node().items
        if (n.metadata.annotations or {}).get("kwok.x-k8s.io/node") != "fake"
    ]
    assert len(real) == 1, f"expected one real node, found {[n.metadata.name for n in real]}"
    return real[0]


def _ready(obj: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))


def _restricted() -> dict[str, Any]:
    """Pod and container security contexts that pass the restricted Pod Security Standard."""
    return {
        "pod": client.V1PodSecurityContext(
            run_as_non_root=True,
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
        ),
        "container": client.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=client.V1Capabilities(drop=["ALL"]),
        ),
    }


def _pod(
    name: str,
    image: str,
    command: list[str],
    *,
    labels: dict[str, str] | None = None,
    volumes: list[client.V1Volume] | None = None,
    mounts: list[client.V1VolumeMount] | None = None,
    restart: str = "Always",
    run_as: int = 65534,
) -> client.V1Pod:
    security = _restricted()
    security["pod"].run_as_user = run_as
    security["pod"].fs_group = run_as
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": name}),
        spec=client.V1PodSpec(
            restart_policy=restart,
            automount_service_account_token=False,
            security_context=security["pod"],
            termination_grace_period_seconds=1,
            containers=[
                client.V1Container(
                    name="main",
                    image=image,
                    image_pull_policy="IfNotPresent",
                    command=command,
                    security_context=security["container"],
                    volume_mounts=mounts,
                )
            ],
            volumes=volumes,
        ),
    )


def _http_server(name: str, image: str, labels: dict[str, str]) -> client.V1Pod:
    """busybox httpd on 8080 serving a page that names the pod."""
    script = (
        f"mkdir -p /tmp/www && echo hello-from-{name} > /tmp/www/index.html"
        " && exec httpd -f -p 8080 -h /tmp/www"
    )
    pod = _pod(name, image, ["sh", "-c", script], labels=labels)
    pod.spec.containers[0].ports = [client.V1ContainerPort(container_port=8080, name="http")]
    pod.spec.containers[0].readiness_probe = client.V1Probe(
        tcp_socket=client.V1TCPSocketAction(port="http"), period_seconds=1
    )
    return pod


def _wait_pods_ready(k8s: Cluster, wait: Any, namespace: str, count: int) -> list[client.V1Pod]:
    return wait(
        client.CoreV1Api(k8s.api).list_namespaced_pod,
        lambda ps: sum(_ready(p) for p in ps) == count,
        namespace=namespace,
        timeout=90,
        what=f"{count} Ready pods in {namespace}",
    )


def _exec(k8s: Cluster, namespace: str, pod: str, *command: str) -> tuple[int, str]:
    """Run a command in a pod (through the API server and the kubelet)."""
    result = k8s.run(
        "kubectl", "exec", "--namespace", namespace, pod, "--", *command, check=False, timeout=30
    )
    return result.returncode, result.stdout + result.stderr


def _connects(k8s: Cluster, namespace: str, pod: str, url: str) -> bool:
    code, _ = _exec(k8s, namespace, pod, "curl", "-sS", "-o", "/dev/null", "-m", "3", url)
    return code == 0


def _http_get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- a: a Ready node on containerd, and the store image serving on a NodePort ----


def test_the_real_node_is_ready_on_containerd_with_the_built_kubelet(node):
    assert _ready(node), f"node {node.metadata.name} is not Ready: {node.status.conditions}"
    info = node.status.node_info
    assert info.container_runtime_version.startswith("containerd://"), info
    assert info.kubelet_version == _pinned("KUBERNETES_VERSION")
    assert info.kube_proxy_version in ("", _pinned("KUBERNETES_VERSION"))
    assert not node.spec.taints, f"the real node takes every workload: {node.spec.taints}"


def test_the_store_image_serves_wordpress_on_a_node_port(k8s, node, namespace, wait):
    core, apps = client.CoreV1Api(k8s.api), client.AppsV1Api(k8s.api)
    # The store runs where the restricted Pod Security Standard is enforced.
    core.patch_namespace(
        namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    labels = {"app": "store"}
    pod = _pod("store", k8s.image("store"), [], labels=labels, run_as=33)
    container = pod.spec.containers[0]
    container.command = None  # the image's entrypoint: php-fpm, then nginx in front
    container.ports = [client.V1ContainerPort(container_port=8080, name="http")]
    container.readiness_probe = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/storefleet-health", port="http"),
        period_seconds=2,
    )
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="store"),
            spec=client.V1DeploymentSpec(
                replicas=1,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(metadata=pod.metadata, spec=pod.spec),
            ),
        ),
    )
    service = core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="store"),
            spec=client.V1ServiceSpec(
                type="NodePort",
                selector=labels,
                ports=[client.V1ServicePort(name="http", port=80, target_port="http")],
            ),
        ),
    )
    wait(
        apps.list_namespaced_deployment,
        lambda ds: any(
            c.type == "Available" and c.status == "True"
            for d in ds
            for c in (d.status.conditions or [])
        ),
        namespace=namespace,
        field_selector="metadata.name=store",
        timeout=120,
        what="Deployment store to be Available",
    )
    (running,) = core.list_namespaced_pod(namespace, label_selector="app=store").items
    assert running.spec.node_name == node.metadata.name

    # kube-proxy programs the NodePort shortly after the Service exists.
    url = f"http://127.0.0.1:{service.spec.ports[0].node_port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            _http_get(url)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer: {exc}")
            time.sleep(0.5)
    # PHP ran WordPress with the image's wp-config.php, which reads the
    # environment: no database is set here, so WordPress says it cannot reach it.
    status, headers, body = _http_get(url)
    assert status == 500, (status, headers)
    assert b"Error establishing a database connection" in body, body[:300]
    assert headers.get("Server") == "nginx", headers
    assert headers.get("X-StoreFleet-Cache") == "MISS", headers  # for the cache, not kept
    # Core is read-only for the user nginx and php-fpm run as.
    check = "id -u; test -w /var/www/html/index.php && echo writable || echo read-only"
    code, out = _exec(k8s, namespace, running.metadata.name, "sh", "-c", check)
    assert code == 0 and out.split() == ["33", "read-only"], out


# -- b: a claim with no pre-made volume binds, and its data outlives the pod ------


def test_a_claim_is_provisioned_and_its_data_survives_the_pod(k8s, node, namespace, wait):
    core = client.CoreV1Api(k8s.api)
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
    assert not [pv for pv in core.list_persistent_volume().items
                if pv.spec.claim_ref and pv.spec.claim_ref.namespace == namespace]  # fmt: skip
    token = secrets.token_hex(16)
    volume = [
        client.V1Volume(
            name="data",
            persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name="data"),
        )
    ]
    mount = [client.V1VolumeMount(name="data", mount_path="/data")]

    def run_once(name: str, script: str) -> str:
        core.create_namespaced_pod(
            namespace,
            _pod(name, k8s.image("toolbox"), ["sh", "-c", script],
                 volumes=volume, mounts=mount, restart="Never", run_as=1000),
        )  # fmt: skip
        (pod,) = wait(
            core.list_namespaced_pod,
            lambda ps: any(p.status.phase in ("Succeeded", "Failed") for p in ps),
            namespace=namespace,
            field_selector=f"metadata.name={name}",
            timeout=120,
            what=f"pod {name} to finish",
        )
        log = pod_log(core, name, namespace)
        assert pod.status.phase == "Succeeded", log
        assert pod.spec.node_name == node.metadata.name
        return log

    run_once("writer", f"echo {token} > /data/token")
    claim = core.read_namespaced_persistent_volume_claim("data", namespace)
    assert claim.status.phase == "Bound"
    volume_obj = core.read_persistent_volume(claim.spec.volume_name)
    assert volume_obj.spec.storage_class_name == "local-path"
    assert volume_obj.metadata.annotations.get("pv.kubernetes.io/provisioned-by") == (
        "rancher.io/local-path"
    )

    core.delete_namespaced_pod("writer", namespace, grace_period_seconds=0)
    wait(
        core.list_namespaced_pod,
        lambda ps: ps == [],
        namespace=namespace,
        field_selector="metadata.name=writer",
        timeout=60,
        what="pod writer to be gone",
    )
    assert run_once("reader", "cat /data/token").strip() == token


# -- c: NetworkPolicy is enforced ------------------------------------------------


@pytest.fixture
def second_namespace(k8s, namespace):  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(k8s.api)
    name = f"{namespace[:50]}-b"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"storefleet.dev/test": "true"})
        )
    )
    deadline = time.monotonic() + 30
    while not any(
        sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items
    ):
        assert time.monotonic() < deadline, f"no default ServiceAccount in {name}"
        time.sleep(0.2)
    yield name
    core.delete_namespace(name)


def test_a_default_deny_policy_blocks_other_pods_and_an_allow_rule_admits_one(
    k8s, node, namespace, second_namespace, wait
):
    core, net = client.CoreV1Api(k8s.api), client.NetworkingV1Api(k8s.api)
    a, b = namespace, second_namespace
    tool = k8s.image("toolbox")
    core.create_namespaced_pod(a, _http_server("server", tool, {"app": "server"}))
    for role in ("allowed", "other"):
        core.create_namespaced_pod(b, _pod(role, tool, ["sleep", "3600"], labels={"role": role}))
    (server,) = _wait_pods_ready(k8s, wait, a, 1)
    _wait_pods_ready(k8s, wait, b, 2)
    url = f"http://{server.status.pod_ip}:8080/"

    # Without a policy both clients get through: the network itself works.
    assert _connects(k8s, b, "allowed", url)
    assert _connects(k8s, b, "other", url)

    net.create_namespaced_network_policy(
        a,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="default-deny-ingress"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(), policy_types=["Ingress"]
            ),
        ),
    )
    net.create_namespaced_network_policy(
        a,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="allow-role-allowed"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(match_labels={"app": "server"}),
                policy_types=["Ingress"],
                ingress=[
                    client.V1NetworkPolicyIngressRule(
                        _from=[
                            client.V1NetworkPolicyPeer(
                                namespace_selector=client.V1LabelSelector(
                                    match_labels={"kubernetes.io/metadata.name": b}
                                ),
                                pod_selector=client.V1LabelSelector(
                                    match_labels={"role": "allowed"}
                                ),
                            )
                        ],
                        ports=[client.V1NetworkPolicyPort(port=8080, protocol="TCP")],
                    )
                ],
            ),
        ),
    )
    # The enforcer applies policies within seconds of seeing them.
    deadline = time.monotonic() + 30
    while _connects(k8s, b, "other", url):
        assert time.monotonic() < deadline, "the default-deny policy was not enforced within 30 s"
        time.sleep(1)
    for _ in range(3):
        assert not _connects(k8s, b, "other", url), "a denied pod got through"
        assert _connects(k8s, b, "allowed", url), "the pod the allow rule admits was refused"


# -- d: cluster DNS across namespaces --------------------------------------------


def test_a_pod_reaches_another_namespaces_service_by_its_dns_name(
    k8s, node, namespace, second_namespace, wait
):
    core = client.CoreV1Api(k8s.api)
    a, b = namespace, second_namespace
    tool = k8s.image("toolbox")
    core.create_namespaced_pod(a, _http_server("web", tool, {"app": "web"}))
    service = core.create_namespaced_service(
        a,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                selector={"app": "web"},
                ports=[client.V1ServicePort(name="http", port=80, target_port=8080)],
            ),
        ),
    )
    core.create_namespaced_pod(b, _pod("client", tool, ["sleep", "3600"]))
    _wait_pods_ready(k8s, wait, a, 1)
    _wait_pods_ready(k8s, wait, b, 1)

    name = f"web.{a}.svc.cluster.local"
    code, out = _exec(k8s, b, "client", "getent", "hosts", name)
    assert code == 0, out
    assert out.split()[0] == service.spec.cluster_ip, out
    deadline = time.monotonic() + 30
    while True:
        code, out = _exec(k8s, b, "client", "curl", "-sS", "-m", "3", f"http://{name}/")
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 0 and out.strip() == "hello-from-web", out
    # The pod's resolver is the cluster's, searching its own namespace first.
    code, out = _exec(k8s, b, "client", "cat", "/etc/resolv.conf")
    assert "nameserver 10.96.0.10" in out and f"search {b}.svc.cluster.local" in out, out


# The platform chart on the node with these images, and stores that run and
# take orders on it: test_placements.py and test_stores.py (issue 10).


def _status_through_ingress(host: str) -> int:
    request = urllib.request.Request("http://127.0.0.1:30080/", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_ingress_answers_503_for_a_store_that_is_down_and_404_for_no_store(
    k8s, node, namespace
):
    """Traefik keeps the route of a Service with no ready pod (a store whose
    one pod is restarting): shoppers get 503, not the 404 of an unknown host."""
    host = f"down-{secrets.token_hex(3)}.localhost:30080"
    client.CoreV1Api(k8s.api).create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="store"),
            spec=client.V1ServiceSpec(
                selector={"app": "no-such-pod"}, ports=[client.V1ServicePort(port=80)]
            ),
        ),
    )
    backend = client.V1IngressBackend(
        service=client.V1IngressServiceBackend(
            name="store", port=client.V1ServiceBackendPort(number=80)
        )
    )
    client.NetworkingV1Api(k8s.api).create_namespaced_ingress(
        namespace,
        client.V1Ingress(
            metadata=client.V1ObjectMeta(name="store"),
            spec=client.V1IngressSpec(
                ingress_class_name="traefik",
                rules=[
                    client.V1IngressRule(
                        host=host.split(":")[0],
                        http=client.V1HTTPIngressRuleValue(
                            paths=[
                                client.V1HTTPIngressPath(
                                    path="/", path_type="Prefix", backend=backend
                                )
                            ]
                        ),
                    )
                ],
            ),
        ),
    )
    deadline = time.monotonic() + 30
    while (status := _status_through_ingress(host)) == 404 and time.monotonic() < deadline:
        time.sleep(0.5)  # until Traefik has read the Ingress
    assert status == 503
    assert _status_through_ingress(f"none-{secrets.token_hex(3)}.localhost:30080") == 404
