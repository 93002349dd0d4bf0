"""The API server validates what it is sent: a server-side dry run rejects an
invalid manifest with the server's own message and persists nothing."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException


def _deployment(template_labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checked"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "checked"}},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }


def test_server_side_dry_run_rejects_invalid_manifest(k8s, namespace):
    apps = client.AppsV1Api(k8s.api)

    with pytest.raises(ApiException) as rejected:
        apps.create_namespaced_deployment(namespace, _deployment({"app": "other"}), dry_run="All")
    assert rejected.value.status == 422
    message = json.loads(rejected.value.body)["message"]
    assert message.startswith('Deployment.apps "checked" is invalid')
    assert "`selector` does not match template `labels`" in message

    accepted = apps.create_namespaced_deployment(
        namespace, _deployment({"app": "checked"}), dry_run="All"
    )
    assert accepted.metadata.uid, "a dry run still returns the object as the server would store it"
    assert apps.list_namespaced_deployment(namespace).items == [], "a dry run must persist nothing"


def test_kubectl_server_dry_run_reports_the_api_server_message(k8s, namespace, tmp_path):
    bad_name = _deployment({"app": "checked"})
    bad_name["metadata"]["name"] = "Not_A_DNS_Name"
    unknown_field = _deployment({"app": "checked"})
    unknown_field["spec"]["replicass"] = 2

    for manifest, expected in (
        (bad_name, "a lowercase RFC 1123 subdomain must consist of"),
        # Strict field validation happens in the API server, not in kubectl.
        (unknown_field, 'unknown field "spec.replicass"'),
    ):
        path = tmp_path / "manifest.yaml"
        path.write_text(yaml.safe_dump(manifest))
        result = k8s.run(
            "kubectl",
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "--namespace",
            namespace,
            "--filename",
            str(path),
            check=False,
        )
        assert result.returncode != 0, f"kubectl accepted {manifest['metadata']['name']}"
        assert expected in result.stderr
    assert client.AppsV1Api(k8s.api).list_namespaced_deployment(namespace).items == []
