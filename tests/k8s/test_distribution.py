"""Distribution as on a real cluster (issue 18): the test environment's
registry (Debian's docker-registry on loopback) holds every image the node
runs, under its build's tag and :dev, and both charts as OCI artifacts
(scripts/publish-charts.sh); `helm install oci://<registry>/charts/
woocommerce-store` installs a store release from there; both charts hand
`imagePullSecrets` to every pod they make."""

from __future__ import annotations

import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from tests.conftest import not_here
from tests.k8s.conftest import TEST_REGISTRY, Cluster
from tests.k8s.test_charts import STORE_VALUES, _values_file

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
MEDIA = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def registry(k8s: Cluster) -> str:
    if not k8s.simulated:
        not_here("needs the test environment's registry (make k8s-up)")
    return TEST_REGISTRY


def _digest(registry: str, repository: str, tag: str) -> str | None:
    resp = httpx.head(
        f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": MEDIA}
    )
    return resp.headers.get("Docker-Content-Digest") if resp.status_code == 200 else None


def _chart_version(name: str) -> str:
    return str(yaml.safe_load((CHARTS / name / "Chart.yaml").read_text())["version"])


def test_every_image_of_the_node_is_in_the_registry_under_its_tag_and_dev(k8s, registry):
    assert set(k8s.images) >= {"store", "platform", "mariadb", "redis", "pause", "toolbox"}
    for name, ref in k8s.images.items():
        repository, tag = ref.removeprefix(f"{registry}/").rsplit(":", 1)
        assert ref.startswith(f"{registry}/storefleet/"), ref
        digest = _digest(registry, repository, tag)
        assert digest, f"{ref} is not in the registry"
        assert _digest(registry, repository, "dev") == digest, f"{name}: :dev is not {tag}"


@pytest.mark.parametrize("chart", ["woocommerce-store", "storefleet"])
def test_the_registry_holds_the_current_chart_as_an_oci_artifact(k8s, registry, tmp_path, chart):
    version = _chart_version(chart)
    k8s.run(
        "helm", "pull", f"oci://{registry}/charts/{chart}", "--version", version,
        "--plain-http", "--destination", str(tmp_path),
    )  # fmt: skip
    with tarfile.open(tmp_path / f"{chart}-{version}.tgz") as archive:
        pulled = {
            m.name.removeprefix(f"{chart}/"): archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }
    local = {
        str(p.relative_to(CHARTS / chart)): p.read_bytes()
        for p in (CHARTS / chart).rglob("*")
        if p.is_file()
    }
    assert set(pulled) == set(local), set(pulled) ^ set(local)
    # helm package writes Chart.yaml anew: the same document, not the same bytes.
    chart_yaml = yaml.safe_load(pulled["Chart.yaml"]) == yaml.safe_load(local["Chart.yaml"])
    same = {"Chart.yaml": chart_yaml}
    changed = [n for n in local if pulled[n] != local[n] and not same.get(n, False)]
    assert not changed, f"the registry's {chart} {version} differs from charts/{chart}: {changed}"


def test_helm_installs_the_store_chart_from_the_registry(k8s, registry, tmp_path, wait):
    """Issue 18, e: `helm install oci://…/charts/woocommerce-store`, as
    docs/deploy.md gives it, with the local values; the release runs on the
    simulated nodes (its pods need no database there)."""
    core, apps = client.CoreV1Api(k8s.api), client.AppsV1Api(k8s.api)
    namespace = f"sft-oci-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=namespace, labels={"storefleet.dev/test": "true"})
        )
    )
    volume = f"sft-oci-{namespace}"
    k8s.bind_volume(volume, namespace, "store-data")
    host = f"{namespace}.localhost"
    values = dict(
        STORE_VALUES, ingress={"host": host}, siteUrl=f"http://{host}:30080",
        **k8s.on_simulated_nodes(),
    )  # fmt: skip
    version = _chart_version("woocommerce-store")
    try:
        installed = k8s.run(
            "helm", "install", "store", f"oci://{registry}/charts/woocommerce-store",
            "--version", version, "--plain-http", "--namespace", namespace,
            "-f", str(CHARTS / "woocommerce-store" / "values-local.yaml"),
            "-f", str(_values_file(tmp_path, "store.yaml", values)),
        )  # fmt: skip
        assert f"Pulled: {registry}/charts/woocommerce-store:{version}" in installed.stderr
        [release] = json.loads(
            k8s.run("helm", "list", "--namespace", namespace, "--output", "json").stdout
        )
        assert release["chart"] == f"woocommerce-store-{version}", release
        assert release["status"] == "deployed", release
        wait(
            apps.list_namespaced_deployment,
            lambda ds: any(d.metadata.name == "store" and d.status.available_replicas for d in ds),
            namespace=namespace,
            timeout=90,
            what="Deployment store to be available",
        )
        spec = apps.read_namespaced_deployment("store", namespace).spec.template.spec
        assert spec.containers[0].image == f"{registry}/storefleet/store:dev"
        assert spec.containers[0].image_pull_policy == "IfNotPresent"
    finally:
        k8s.run("helm", "uninstall", "store", "--namespace", namespace, check=False)
        core.delete_namespace(namespace)
        core.delete_persistent_volume(volume)


def _pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    specs = {}
    for doc in docs:
        template = (doc.get("spec") or {}).get("template")
        if template and "containers" in template.get("spec", {}):
            specs[f"{doc['kind']}/{doc['metadata']['name']}"] = template["spec"]
    return specs


@pytest.mark.parametrize("chart", ["woocommerce-store", "storefleet"])
def test_both_charts_pull_with_image_pull_secrets(k8s, registry, tmp_path, chart):
    """A private registry (GHCR, ECR): every pod either chart makes carries
    the Secret named in `imagePullSecrets` (docs/deploy.md)."""
    pull = {"imagePullSecrets": [{"name": "ghcr-pull"}]}
    args = ["-f", str(_values_file(tmp_path, "pull.yaml", pull))]
    if chart == "woocommerce-store":
        args = ["-f", str(_values_file(tmp_path, "store.yaml", STORE_VALUES)), *args]
    rendered = k8s.run(
        "helm", "template", "ct", f"oci://{registry}/charts/{chart}",
        "--version", _chart_version(chart), "--plain-http",
        "-f", str(CHARTS / chart / "values-local.yaml"), *args,
    ).stdout  # fmt: skip
    specs = _pod_specs([d for d in yaml.safe_load_all(rendered) if d])
    expected = (
        {"Deployment/store", "Job/install-1"}
        if chart == "woocommerce-store"
        else {"Deployment/ct-api", "Deployment/ct-worker", "Job/ct-migrate-1",
              "StatefulSet/ct-mysql", "StatefulSet/ct-stores-mysql", "StatefulSet/ct-redis"}
    )  # fmt: skip
    assert expected <= set(specs), sorted(specs)
    missing = [name for name, spec in specs.items() if spec.get("imagePullSecrets") != pull[
        "imagePullSecrets"
    ]]  # fmt: skip
    assert not missing, missing
