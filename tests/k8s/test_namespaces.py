"""Deleting a namespace removes everything in it, and the namespace itself
disappears once the controller manager has finalised it."""

from __future__ import annotations

import json

from kubernetes import client


def test_deleting_a_namespace_removes_its_content_and_finalises(k8s, namespace, wait):
    core, apps = client.CoreV1Api(k8s.api), client.AppsV1Api(k8s.api)
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"k": "v"}),
    )
    labels = {"app": "doomed"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="doomed"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="c", image=k8s.image("pause"))]
                    ),
                ),
            ),
        ),
    )
    wait(
        core.list_namespaced_pod,
        lambda ps: len([p for p in ps if p.status.phase == "Running"]) == 2,
        namespace=namespace,
        timeout=60,
        what="2 running pods before the deletion",
    )

    # The answer is the namespace as stored, now marked for finalisation (the
    # client types it as a Status, so it is read raw).
    deleted = json.loads(core.delete_namespace(namespace, _preload_content=False).data)
    assert deleted["kind"] == "Namespace" and deleted["status"]["phase"] == "Terminating"

    wait(
        core.list_namespace,
        lambda namespaces: namespaces == [],
        field_selector=f"metadata.name={namespace}",
        timeout=90,
        what=f"namespace {namespace} to be finalised and gone",
    )
    assert core.list_namespaced_pod(namespace).items == []
    assert core.list_namespaced_config_map(namespace).items == []
    assert apps.list_namespaced_deployment(namespace).items == []
    assert apps.list_namespaced_replica_set(namespace).items == []
