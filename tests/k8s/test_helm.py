"""Helm installs, upgrades and uninstalls a chart against the cluster, the way
the Kubernetes driver will install each store's release."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

CHART = Path(__file__).parent / "charts" / "probe"


def _releases(k8s, namespace: str) -> list[dict]:
    return json.loads(
        k8s.run("helm", "list", "--namespace", namespace, "--all", "--output", "json").stdout
    )


def test_helm_upgrade_install_then_uninstall(k8s, namespace, wait):
    core, apps = client.CoreV1Api(k8s.api), client.AppsV1Api(k8s.api)
    install = [
        "upgrade",
        "--install",
        "probe",
        str(CHART),
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "90s",
        "--set",
        f"image={k8s.image('pause')}",
    ]

    k8s.run("helm", *install)
    (release,) = _releases(k8s, namespace)
    assert (release["name"], release["status"], release["revision"]) == ("probe", "deployed", "1")
    deployment = apps.read_namespaced_deployment("probe", namespace)
    assert deployment.status.ready_replicas == 2, "--wait returned before the pods were Ready"
    assert core.read_namespaced_config_map("probe-settings", namespace).data == {
        "greeting": "hello"
    }
    assert core.read_namespaced_service("probe", namespace).spec.ports[0].node_port in range(
        30000, 32768
    )

    k8s.run("helm", *install, "--set", "greeting=bonjour")
    (release,) = _releases(k8s, namespace)
    assert (release["status"], release["revision"]) == ("deployed", "2")
    assert core.read_namespaced_config_map("probe-settings", namespace).data == {
        "greeting": "bonjour"
    }

    k8s.run("helm", "uninstall", "probe", "--namespace", namespace, "--wait", "--timeout", "90s")
    assert _releases(k8s, namespace) == []
    assert (
        core.list_namespaced_config_map(
            namespace, label_selector="app.kubernetes.io/instance=probe"
        ).items
        == []
    )
    assert (
        core.list_namespaced_service(
            namespace, label_selector="app.kubernetes.io/instance=probe"
        ).items
        == []
    )
    assert core.list_namespaced_secret(namespace, label_selector="owner=helm").items == []
    wait(
        core.list_namespaced_pod,
        lambda pods: pods == [],
        namespace=namespace,
        label_selector="app.kubernetes.io/instance=probe",
        timeout=60,
        what="the release's pods to be gone",
    )
