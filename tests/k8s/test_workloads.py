"""Workloads run as on a real cluster: the scheduler places pods on nodes,
kubelets make them Ready (the test environment's real node: its images are
built here), controllers keep Deployments, EndpointSlices and Jobs up to
date, and the API server allocates NodePorts."""

from __future__ import annotations

import ipaddress

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NODE_PORT_RANGE = range(30000, 32768)
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")


def _is_ready(obj) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))


def _web_deployment(replicas: int, image: str) -> client.V1Deployment:
    labels = {"app": "web"}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="web",
                            image=image,
                            ports=[client.V1ContainerPort(container_port=8080, name="http")],
                        )
                    ]
                ),
            ),
        ),
    )


def _node_port_service(node_port: int | None = None) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name="web" if node_port is None else "web-clash"),
        spec=client.V1ServiceSpec(
            type="NodePort",
            selector={"app": "web"},
            ports=[
                client.V1ServicePort(name="http", port=80, target_port="http", node_port=node_port)
            ],
        ),
    )


def test_deployment_pods_become_ready_on_nodes_behind_a_node_port(k8s, namespace, wait):
    apps, core = client.AppsV1Api(k8s.api), client.CoreV1Api(k8s.api)
    discovery = client.DiscoveryV1Api(k8s.api)

    apps.create_namespaced_deployment(namespace, _web_deployment(3, k8s.image("pause")))
    service = core.create_namespaced_service(namespace, _node_port_service())

    node_port = service.spec.ports[0].node_port
    assert node_port in NODE_PORT_RANGE, f"nodePort {node_port} is outside the allocator's range"
    if k8s.simulated:
        assert ipaddress.ip_address(service.spec.cluster_ip) in SERVICE_CIDR

    # The allocator owns the port now: asking for it again is refused by the API server.
    with pytest.raises(ApiException) as clash:
        core.create_namespaced_service(namespace, _node_port_service(node_port=node_port))
    assert clash.value.status == 422
    assert "provided port is already allocated" in clash.value.body

    pods = wait(
        core.list_namespaced_pod,
        lambda ps: sum(_is_ready(p) for p in ps) == 3,
        namespace=namespace,
        label_selector="app=web",
        timeout=60,
        what="3 Ready pods of deployment web",
    )
    ready_nodes = {n.metadata.name for n in core.list_node().items if _is_ready(n)}
    placed_on = {p.spec.node_name for p in pods}
    assert placed_on and placed_on <= ready_nodes, f"pods on {placed_on}, Ready nodes {ready_nodes}"
    if k8s.simulated:
        # The simulated nodes are tainted: untolerating pods run on the real node.
        assert not any(name.startswith("kwok-node-") for name in placed_on), placed_on
    assert all(p.status.pod_ip for p in pods), "pods got no address"

    wait(
        apps.list_namespaced_deployment,
        lambda ds: len(ds) == 1 and ds[0].status.available_replicas == 3,
        namespace=namespace,
        field_selector="metadata.name=web",
        timeout=30,
        what="deployment web to report 3 available replicas",
    )
    # The EndpointSlice controller wires the Service to exactly these pods.
    pod_ips = {p.status.pod_ip for p in pods}
    wait(
        discovery.list_namespaced_endpoint_slice,
        lambda slices: (
            {
                address
                for s in slices
                for e in (s.endpoints or [])
                if e.conditions and e.conditions.ready
                for address in e.addresses
            }
            == pod_ips
        ),
        namespace=namespace,
        label_selector="kubernetes.io/service-name=web",
        timeout=30,
        what=f"EndpointSlices of service web to list {sorted(pod_ips)}",
    )


def test_job_runs_to_completion(k8s, namespace, wait):
    batch, core = client.BatchV1Api(k8s.api), client.CoreV1Api(k8s.api)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="once"),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[
                        client.V1Container(
                            name="once", image=k8s.image("toolbox"), command=["true"]
                        )
                    ],
                )
            ),
        ),
    )
    batch.create_namespaced_job(namespace, job)

    jobs = wait(
        batch.list_namespaced_job,
        lambda js: (
            len(js) == 1
            and any(
                c.type in ("Complete", "Failed") and c.status == "True"
                for c in (js[0].status.conditions or [])
            )
        ),
        namespace=namespace,
        field_selector="metadata.name=once",
        timeout=60,
        what="job once to finish",
    )
    conditions = {c.type: c.status for c in jobs[0].status.conditions}
    assert conditions.get("Complete") == "True", f"job finished with {conditions}"
    assert jobs[0].status.succeeded == 1

    pods = core.list_namespaced_pod(
        namespace, label_selector="batch.kubernetes.io/job-name=once"
    ).items
    assert [p.status.phase for p in pods] == ["Succeeded"]
