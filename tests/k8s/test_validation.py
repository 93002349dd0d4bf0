"""The API server validates what it is sent: a server-side dry run rejects an
invalid manifest with the server's own message and persists nothing."""

from __future__ import annotations

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
    assert "`selector` does not match template `labels`" in rejected.value.body

    with pytest.raises(ApiException) as unknown_field:
        manifest = _deployment({"app": "checked"})
        manifest["spec"]["replicass"] = 2
        apps.create_namespaced_deployment(namespace, manifest, dry_run="All", field_validation="Strict")
    assert unknown_field.value.status == 400
    assert 'unknown field "spec.replicass"' in unknown_field.value.body

    accepted = apps.create_namespaced_deployment(namespace, _deployment({"app": "checked"}), dry_run="All")
    assert accepted.metadata.uid, "a dry run still returns the object as the server would store it"
    assert apps.list_namespaced_deployment(namespace).items == [], "a dry run must persist nothing"


def test_kubectl_server_dry_run_reports_the_api_server_message(k8s, namespace, tmp_path):
    manifest = tmp_path / "invalid.yaml"
    bad = _deployment({"app": "checked"})
    bad["metadata"]["name"] = "Not_A_DNS_Name"
    manifest.write_text(yaml.safe_dump(bad))

    result = k8s.run("kubectl", "apply", "--dry-run=server", "-n", namespace, "-f", str(manifest), check=False)
    assert result.returncode != 0
    assert 'Deployment.apps "Not_A_DNS_Name" is invalid' in result.stderr
    assert "a lowercase RFC 1123 subdomain must consist of" in result.stderr
