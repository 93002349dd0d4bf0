"""The Helm charts against a real API server: both charts lint and render with
their local and production values and every rendered object passes a
server-side dry-run; the platform chart installs with values-local.yaml and
its pods become Ready; its worker ServiceAccount, impersonated, can do what
provisioning needs and is denied what it must not touch; and the store chart,
installed by that ServiceAccount, keeps its Secret across upgrades.

Everything lives in namespaces named ``charts-test-*`` (store namespaces:
``charts-test-store-*``, the prefix the platform release under test accepts)
and is removed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from storefleet import plans
from tests.k8s.conftest import Cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
STORE_CHART = REPO_ROOT / "charts" / "woocommerce-store"
PLATFORM_CHART = REPO_ROOT / "charts" / "storefleet"
STORE_LABEL = "storefleet.io/store"
STORE_PREFIX = "charts-test-store-"
NODE_PORT_RANGE = range(30000, 32768)
PLATFORM_COMPONENTS = {"api": 2, "worker": 3, "mysql": 1, "stores-mysql": 1, "redis": 1}

# What the store chart needs from the driver, as the driver passes it: a file.
STORE_UID = "demo00000041"
STORE_VALUES = {
    "storeId": 41,
    "storeUid": STORE_UID,
    "storeName": "demo",
    "siteUrl": "http://demo.localhost:30080",
    "admin": {"email": "owner@example.com"},
    "database": {
        "password": "db-password-from-the-driver",
        "name": f"store_{STORE_UID}",
        "user": f"store_{STORE_UID}",
    },
    "ingress": {"host": "demo.localhost"},
}
UID_LABEL = "storefleet.io/store-uid"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


def _values_file(directory: Path, name: str, values: dict) -> Path:
    path = directory / name
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def _documents(manifest: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(manifest) if d]


def _is_ready(obj) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))


def _status_of(call, *args, **kwargs) -> int:
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        return exc.status
    return 200


def _delete_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _namespace(name: str, labels: dict[str, str]) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))


@pytest.fixture(scope="module")
def scratch(k8s) -> Iterator[str]:
    """A namespace for server-side dry-runs."""
    core = client.CoreV1Api(k8s.api)
    name = f"charts-test-dry-{uuid.uuid4().hex[:6]}"
    core.create_namespace(_namespace(name, {"storefleet.dev/test": "true"}))
    yield name
    _delete_namespace(core, name)


# -- a: lint, template, server-side dry-run ------------------------------------


@pytest.mark.parametrize("flavour", ["local", "prod", "k3s"])
@pytest.mark.parametrize("chart", [STORE_CHART, PLATFORM_CHART], ids=lambda c: c.name)
def test_chart_lints_renders_and_passes_a_server_side_dry_run(
    k8s, scratch, tmp_path, chart, flavour
):
    args = ["--namespace", scratch, "-f", str(chart / f"values-{flavour}.yaml")]
    if chart == STORE_CHART:
        args += ["-f", str(_values_file(tmp_path, "store.yaml", STORE_VALUES))]

    lint = k8s.run("helm", "lint", "--strict", str(chart), *args)
    assert "0 chart(s) failed" in lint.stdout

    rendered = k8s.run("helm", "template", "ct", str(chart), *args).stdout
    docs = _documents(rendered)
    kinds = {d["kind"] for d in docs}
    if chart == STORE_CHART:
        assert {
            "ResourceQuota",
            "LimitRange",
            "NetworkPolicy",
            "Secret",
            "PersistentVolumeClaim",
            "Deployment",
            "Service",
            "Job",
            "Ingress",
        } <= kinds
    else:
        assert {
            "Deployment",
            "ServiceAccount",
            "ClusterRole",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "NetworkPolicy",
            "PodDisruptionBudget",
        } <= kinds
        assert ("StatefulSet" in kinds) == (flavour != "prod")  # prod: external servers
        assert ("Ingress" in kinds) == (flavour != "local")
        assert ("HorizontalPodAutoscaler" in kinds) == (flavour == "prod")

    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(rendered, encoding="utf-8")
    dry_run = k8s.run(
        "kubectl", "apply", "--dry-run=server", "--namespace", scratch, "-f", str(manifest)
    )
    accepted = [line for line in dry_run.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == len(docs), dry_run.stdout + dry_run.stderr


def test_store_chart_refuses_to_render_without_its_identity(k8s, tmp_path):
    values = dict(STORE_VALUES, storeName="Not_A_Label")
    result = k8s.run(
        "helm",
        "template",
        "ct",
        str(STORE_CHART),
        "-f",
        str(_values_file(tmp_path, "bad.yaml", values)),
        check=False,
    )
    assert result.returncode != 0
    assert "must be a DNS-1123 label" in result.stderr

    no_password = {k: v for k, v in STORE_VALUES.items() if k != "database"}
    result = k8s.run(
        "helm",
        "template",
        "ct",
        str(STORE_CHART),
        "-f",
        str(STORE_CHART / "values-local.yaml"),
        "-f",
        str(_values_file(tmp_path, "nopw.yaml", no_password)),
        check=False,
    )
    assert result.returncode != 0
    assert "database.password is required on the first install" in result.stderr


# -- f: the platform installs with values-local.yaml ---------------------------


class Platform:
    def __init__(self, namespace: str, release: str) -> None:
        self.namespace = namespace
        self.release = release
        self.worker = f"system:serviceaccount:{namespace}:storefleet-worker"
        self.store_namespaces: list[str] = []


@pytest.fixture(scope="module")
def platform(k8s, tmp_path_factory) -> Iterator[Platform]:
    """charts/storefleet installed with values-local.yaml (not yet waited for).

    Two settings differ, so that this release cannot touch anybody else's
    stores on a shared cluster: the store namespace prefix, and the release
    name (cluster-scoped objects are named after it)."""
    core = client.CoreV1Api(k8s.api)
    suffix = uuid.uuid4().hex[:6]
    p = Platform(namespace=f"charts-test-platform-{suffix}", release=f"ct{suffix}")
    core.create_namespace(
        _namespace(
            p.namespace,
            {
                "storefleet.dev/test": "true",
                # Every platform pod must satisfy the restricted Pod Security Standard.
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        )
    )
    volumes: list[str] = []
    try:
        if k8s.simulated:
            # No storage provisioner on simulated nodes: a volume for each claim.
            for component in ("mysql", "stores-mysql", "redis"):
                name = f"charts-test-{suffix}-{component}"
                k8s.bind_volume(name, p.namespace, f"data-{p.release}-{component}-0", size="50Gi")
                volumes.append(name)
        overrides = _values_file(
            tmp_path_factory.mktemp("platform"),
            "overrides.yaml",
            # On the test environment the platform's pods go to the simulated
            # nodes: test_node.py runs the images on the real node.
            {"rbac": {"storeNamespacePrefix": STORE_PREFIX}, **k8s.on_simulated_nodes()},
        )
        started = time.monotonic()
        k8s.run(
            "helm",
            "upgrade",
            "--install",
            p.release,
            str(PLATFORM_CHART),
            "--namespace",
            p.namespace,
            "-f",
            str(PLATFORM_CHART / "values-local.yaml"),
            "-f",
            str(overrides),
        )
        print(f"platform chart installed in {time.monotonic() - started:.1f} s")
        yield p
    finally:
        k8s.run(
            "helm",
            "uninstall",
            p.release,
            "--namespace",
            p.namespace,
            "--wait",
            "--timeout",
            "60s",
            check=False,
        )
        for name in [*p.store_namespaces, p.namespace]:
            _delete_namespace(core, name)
        for name in volumes:
            try:
                core.delete_persistent_volume(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


def test_platform_installs_and_its_pods_become_ready(k8s, platform, wait):
    core, batch = client.CoreV1Api(k8s.api), client.BatchV1Api(k8s.api)
    release = json.loads(
        k8s.run("helm", "list", "--namespace", platform.namespace, "--output", "json").stdout
    )
    assert [(r["name"], r["status"]) for r in release] == [(platform.release, "deployed")]

    def ready_by_component(pods) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pod in pods:
            component = pod.metadata.labels.get("app.kubernetes.io/component")
            if _is_ready(pod) and pod.spec.node_name:
                counts[component] = counts.get(component, 0) + 1
        return counts

    wanted = (
        PLATFORM_COMPONENTS
        if k8s.simulated
        else {"api": 2, "worker": 3}  # real images may still be pulling elsewhere
    )
    started = time.monotonic()
    pods = wait(
        core.list_namespaced_pod,
        lambda ps: all(ready_by_component(ps).get(c, 0) >= n for c, n in wanted.items()),
        namespace=platform.namespace,
        label_selector=f"app.kubernetes.io/instance={platform.release}",
        timeout=120,
        what="the platform's pods to be scheduled and Ready",
    )
    print(f"platform pods Ready {time.monotonic() - started:.1f} s after the install")

    api_pod = next(p for p in pods if p.metadata.labels["app.kubernetes.io/component"] == "api")
    worker_pod = next(
        p for p in pods if p.metadata.labels["app.kubernetes.io/component"] == "worker"
    )
    assert api_pod.spec.automount_service_account_token is False
    assert worker_pod.spec.service_account_name == "storefleet-worker"
    env = {e.name: e for e in worker_pod.spec.containers[0].env}
    assert env["STOREFLEET_DRIVER"].value == "kubernetes"
    # The API records each new store's driver, and the reconciler checks the
    # health of its own driver's stores only: a platform whose API said
    # "local" never noticed a store of its that was down.
    api_env = {e.name: e.value for e in api_pod.spec.containers[0].env}
    assert api_env["STOREFLEET_DRIVER"] == "kubernetes"
    for secret_env in ("STOREFLEET_DATABASE_URL", "STOREFLEET_REDIS_URL", "STOREFLEET_SECRET_KEY"):
        assert env[secret_env].value_from.secret_key_ref is not None, secret_env
    store_values = core.read_namespaced_config_map(
        f"{platform.release}-store-values", platform.namespace
    ).data["store-values.yaml"]
    defaults = yaml.safe_load(store_values)
    assert defaults["service"]["type"] == "ClusterIP"  # stores behind Traefik
    assert defaults["ingress"]["enabled"] is True and defaults["ingress"]["className"] == "traefik"
    assert env["STOREFLEET_K8S_STORE_DOMAIN"].value == "localhost"
    # The workers, and only they, reach the stores' web port from the platform.
    (peer,) = defaults["networkPolicy"]["ingressFrom"]["platform"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"

    if k8s.simulated:
        wait(
            batch.list_namespaced_job,
            lambda jobs: any(j.status.succeeded for j in jobs),
            namespace=platform.namespace,
            label_selector="app.kubernetes.io/component=migrate",
            timeout=60,
            what="the migration Job to complete",
        )

    # The generated credentials are kept on upgrade (lookup), not regenerated.
    secret = core.read_namespaced_secret(platform.release, platform.namespace).data
    k8s.run(
        "helm",
        "upgrade",
        platform.release,
        str(PLATFORM_CHART),
        "--namespace",
        platform.namespace,
        "--reuse-values",
    )
    assert core.read_namespaced_secret(platform.release, platform.namespace).data == secret


# -- e: the worker's ServiceAccount, impersonated ------------------------------


def _until_allowed(call, what: str, timeout: float = 15) -> None:
    """RBAC learns of a new RoleBinding through an informer: retry a 403 briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except ApiException as exc:
            if exc.status != 403 or time.monotonic() > deadline:
                pytest.fail(f"{what}: {exc.status} {exc.reason}: {exc.body}")
        time.sleep(0.2)


def _refused_namespace(
    core, platform: Platform, name: str, labels: dict, timeout: float = 30
) -> None:
    """The API server loads a new admission policy through an informer: right
    after the chart is installed the policy may not be in force yet, so a
    namespace it should refuse is created (and tried again under a new name)
    until the refusal comes."""
    deadline = time.monotonic() + timeout
    while True:
        platform.store_namespaces.append(name)
        status = _status_of(core.create_namespace, _namespace(name, labels))
        if status == 403:
            return
        if status != 200 or time.monotonic() > deadline:
            pytest.fail(f"namespace {name} with {labels}: {status}, not refused (403)")
        name = f"{name[:-3]}{uuid.uuid4().hex[:3]}"
        time.sleep(0.5)


def _bind_worker(rbac_as_worker, platform: Platform, namespace: str) -> None:
    rbac_as_worker.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="storefleet-worker"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io",
                kind="ClusterRole",
                name=f"{platform.release}-store-manager",
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="ServiceAccount", name="storefleet-worker", namespace=platform.namespace
                )
            ],
        ),
    )


def _secret(name: str) -> client.V1Secret:
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"k": "v"})


def _deployment(image: str) -> client.V1Deployment:
    labels = {"app": "probe"}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="probe"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="probe", image=image)]),
            ),
        ),
    )


def _store_labels(uid: str = STORE_UID, **extra: str) -> dict[str, str]:
    return {STORE_LABEL: "41", UID_LABEL: uid, **RESTRICTED, **extra}


def _service(name: str, **spec) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ServiceSpec(
            ports=[client.V1ServicePort(port=80, target_port=8080)], selector={"a": "b"}, **spec
        ),
    )


def _ingress(name: str, *hosts: str | None, default_backend: bool = False) -> client.V1Ingress:
    backend = client.V1IngressBackend(
        service=client.V1IngressServiceBackend(
            name="store", port=client.V1ServiceBackendPort(number=80)
        )
    )
    path = client.V1HTTPIngressPath(path="/", path_type="Prefix", backend=backend)
    return client.V1Ingress(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1IngressSpec(
            default_backend=backend if default_backend else None,
            rules=[
                client.V1IngressRule(host=h, http=client.V1HTTPIngressRuleValue(paths=[path]))
                for h in hosts
            ],
        ),
    )


@dataclass
class _AsWorker:
    """The API as the worker ServiceAccount sees it (and as an admin, to compare)."""

    core: client.CoreV1Api
    apps: client.AppsV1Api
    rbac: client.RbacAuthorizationV1Api
    net: client.NetworkingV1Api
    admin_core: client.CoreV1Api
    k8s: Cluster
    platform: Platform
    store_ns: str
    suffix: str


def test_worker_service_account_is_allowed_store_namespaces_only(k8s, platform):
    as_worker = k8s.api_client_as(platform.worker)
    suffix = uuid.uuid4().hex[:6]
    store_ns = f"{STORE_PREFIX}{suffix}"
    platform.store_namespaces.append(store_ns)
    w = _AsWorker(
        client.CoreV1Api(as_worker), client.AppsV1Api(as_worker),
        client.RbacAuthorizationV1Api(as_worker), client.NetworkingV1Api(as_worker),
        client.CoreV1Api(k8s.api), k8s, platform, store_ns, suffix,
    )  # fmt: skip
    try:
        _a_store_namespace_and_its_objects_are_allowed(w)
        _a_store_namespace_is_never_changed_afterwards(w)
        _other_store_namespaces_are_refused(w)
        _only_a_stores_own_credentials_secret_is_allowed(w)
        _only_the_stores_own_services_and_host_are_allowed(w)
        _rbac_denies_other_namespaces_and_nodes(w)
        _an_unlabelled_namespace_is_not_the_workers(w)
        _no_binding_to_anything_broader(w)
        # Deletion, as the worker: its own store namespace only.
        w.core.delete_namespace(store_ns)
    finally:
        as_worker.close()


def _a_store_namespace_and_its_objects_are_allowed(w: _AsWorker) -> None:
    # Allowed: a store namespace (labelled, restricted Pod Security), the
    # RoleBinding that opens it to the worker, then a Secret and a Deployment.
    w.core.create_namespace(_namespace(w.store_ns, _store_labels()))
    _bind_worker(w.rbac, w.platform, w.store_ns)
    _until_allowed(
        lambda: w.core.create_namespaced_secret(w.store_ns, _secret("store-admin")),
        "create a Secret in the store namespace",
    )
    w.apps.create_namespaced_deployment(w.store_ns, _deployment(w.k8s.image("pause")))
    assert w.core.read_namespaced_secret("store-admin", w.store_ns).data == {"k": "dg=="}  # "v"


def _a_store_namespace_is_never_changed_afterwards(w: _AsWorker) -> None:
    # Never changed afterwards: no patch (RBAC), so Pod Security cannot be relaxed.
    for labels in (
        {"storefleet.io/plan": "small"},
        {"pod-security.kubernetes.io/enforce": "privileged"},
    ):
        assert (
            _status_of(w.core.patch_namespace, w.store_ns, {"metadata": {"labels": labels}}) == 403
        )


def _other_store_namespaces_are_refused(w: _AsWorker) -> None:
    # Refused by the admission policy: store namespaces without restricted
    # Pod Security, without a uid, or outside the prefix.
    for labels in (
        {STORE_LABEL: "41", UID_LABEL: STORE_UID},
        _store_labels(**{"pod-security.kubernetes.io/enforce": "baseline"}),
        _store_labels(**{"pod-security.kubernetes.io/enforce-version": "v1.20"}),
        {STORE_LABEL: "41", **RESTRICTED},
        _store_labels(uid="Not-A-Uid"),
    ):
        _refused_namespace(w.core, w.platform, f"{STORE_PREFIX}{uuid.uuid4().hex[:6]}", labels)
    # A labelled namespace outside the store prefix.
    _refused_namespace(w.core, w.platform, f"charts-test-other-{w.suffix}", _store_labels())


def _only_a_stores_own_credentials_secret_is_allowed(w: _AsWorker) -> None:
    # In its own namespace: a store's credentials Secret, named by the uid it is labelled with.
    uid, ns = "a1b2c3d4e5f6", w.platform.namespace

    def credentials(name: str, label: str) -> client.V1Secret:
        return client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels={STORE_LABEL: "41", UID_LABEL: label}),
            string_data={"db_password": "x"},
        )

    _until_allowed(
        lambda: w.core.create_namespaced_secret(
            w.platform.namespace, credentials(f"store-{uid}-credentials", uid)
        ),
        "create a store's credentials Secret in the platform namespace",
    )
    assert w.core.read_namespaced_secret(f"store-{uid}-credentials", w.platform.namespace).data
    w.core.delete_namespaced_secret(f"store-{uid}-credentials", w.platform.namespace)
    # ... but no other name, no uid that is not its name's, not the platform's own.
    for name, label in (
        ("store-41-credentials", uid),
        (f"store-{uid}-credentials", "ffffffffffff"),
        (f"x-{uid}-credentials", uid),
    ):
        secret = credentials(name, label)
        assert _status_of(w.core.create_namespaced_secret, ns, secret) == 403, name
    assert _status_of(lambda: w.core.create_namespaced_secret(ns, _secret("x"))) == 403
    assert _status_of(lambda: w.core.delete_namespaced_secret(w.platform.release, ns)) == 403
    assert (
        _status_of(
            lambda: w.core.patch_namespaced_secret(
                w.platform.release, w.platform.namespace, {"metadata": {"labels": {UID_LABEL: uid}}}
            )
        )
        == 403
    ), "labelling the platform's Secret as a store's must be refused"


def _only_the_stores_own_services_and_host_are_allowed(w: _AsWorker) -> None:
    # Services: ClusterIP (and node ports, locally), never LoadBalancer,
    # ExternalName or externalIPs.
    w.core.create_namespaced_service(w.store_ns, _service("inside"))
    w.core.create_namespaced_service(w.store_ns, _service("node-port", type="NodePort"))
    for name, spec in (
        ("balancer", {"type": "LoadBalancer"}),
        ("external-ips", {"external_ips": ["203.0.113.7"]}),
        ("alias", {"type": "ExternalName", "external_name": "example.com"}),
    ):
        service = _service(name, **spec)
        assert _status_of(w.core.create_namespaced_service, w.store_ns, service) == 403, name

    # Ingresses: of the platform's domain only the store's own host, <store
    # name>.<store.domain> (values-local.yaml: localhost); custom domains
    # outside it (which store holds one is the platform database's to say).
    own = f"{w.suffix}.localhost"
    w.net.create_namespaced_ingress(w.store_ns, _ingress("own", own))
    w.net.create_namespaced_ingress(w.store_ns, _ingress("custom", f"{w.suffix}.example.test"))
    for name, hosts, default in (
        ("another", ("victim.localhost",), False),
        ("the-domain", ("localhost",), False),
        ("two", (own, "victim.localhost"), False),
        ("any-host", (None,), False),
        ("default", (own,), True),
    ):
        ingress = _ingress(name, *hosts, default_backend=default)
        assert _status_of(w.net.create_namespaced_ingress, w.store_ns, ingress) == 403, name


def _rbac_denies_other_namespaces_and_nodes(w: _AsWorker) -> None:
    # Denied by RBAC: other namespaces' Secrets, listing nodes (one, by name, it may read).
    assert _status_of(lambda: w.core.list_namespaced_secret("kube-system")) == 403
    assert _status_of(lambda: w.core.read_namespaced_secret("anything", "kube-system")) == 403
    assert _status_of(lambda: w.core.create_namespaced_secret("kube-system", _secret("x"))) == 403
    assert _status_of(lambda: w.core.list_node()) == 403
    node = w.admin_core.list_node().items[0].metadata.name
    assert _status_of(lambda: w.core.read_node(node)) == 200
    assert _status_of(lambda: w.core.list_namespaced_secret(w.platform.namespace)) == 403
    assert _status_of(lambda: w.core.list_secret_for_all_namespaces()) == 403


def _an_unlabelled_namespace_is_not_the_workers(w: _AsWorker) -> None:
    # An unlabelled namespace (made by an admin): no Secret, no RoleBinding, no delete.
    unlabelled = f"{STORE_PREFIX}{w.suffix}-x"
    w.platform.store_namespaces.append(unlabelled)
    w.admin_core.create_namespace(_namespace(unlabelled, {"storefleet.dev/test": "true"}))
    assert _status_of(lambda: w.core.create_namespaced_secret(unlabelled, _secret("x"))) == 403
    assert _status_of(lambda: w.core.create_namespaced_secret("default", _secret("x"))) == 403
    assert _status_of(lambda: _bind_worker(w.rbac, w.platform, unlabelled)) == 403
    assert _status_of(lambda: w.core.delete_namespace(unlabelled)) == 403


def _no_binding_to_anything_broader(w: _AsWorker) -> None:
    # No RoleBinding to anything broader, even in a store namespace.
    wider = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="wider"),
        role_ref=client.V1RoleRef(
            api_group="w.rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
        ),
        subjects=[
            client.RbacV1Subject(
                kind="ServiceAccount", name="storefleet-worker", namespace=w.platform.namespace
            )
        ],
    )
    assert _status_of(lambda: w.rbac.create_namespaced_role_binding(w.store_ns, wider)) == 403


# -- the store chart, installed by the worker ----------------------------------


@dataclass
class _StoreAsWorker:
    """A store release the worker installs, as the driver would."""

    k8s: Cluster
    platform: Platform
    tmp_path: Path
    namespace: str
    host: str
    identity: dict
    defaults: dict  # the platform chart's store values, on the simulated nodes

    def helm(self, *args: str, values: dict) -> None:
        self.k8s.run(
            "helm", "upgrade", "--install", "store", str(STORE_CHART),
            "--namespace", self.namespace, "--kube-as-user", self.platform.worker,
            "-f", str(_values_file(self.tmp_path, "platform-defaults.yaml", self.defaults)),
            "-f", str(_values_file(self.tmp_path, f"store-{uuid.uuid4().hex[:4]}.yaml", values)),
            *args,
        )  # fmt: skip


def test_worker_installs_a_store_and_upgrades_keep_its_secret(k8s, platform, tmp_path, wait):
    admin_core = client.CoreV1Api(k8s.api)
    as_worker = k8s.api_client_as(platform.worker)
    name = uuid.uuid4().hex[:6]
    store_ns = f"{STORE_PREFIX}{name}"
    platform.store_namespaces.append(store_ns)
    # The store's own host (the admission policy allows no other).
    host = f"{name}.localhost"
    defaults = yaml.safe_load(
        admin_core.read_namespaced_config_map(
            f"{platform.release}-store-values", platform.namespace
        ).data["store-values.yaml"]
    )
    # The chart as the worker installs it, on the simulated nodes (no database
    # here: tests/k8s/test_stores.py runs stores for real on the node).
    defaults.update(k8s.on_simulated_nodes())
    store = _StoreAsWorker(
        k8s, platform, tmp_path, store_ns, host,
        dict(STORE_VALUES, ingress={"host": host}, siteUrl=f"http://{host}:30080"), defaults,
    )  # fmt: skip
    volume = None
    try:
        volume = _prepare_the_namespace_as_the_driver_does(store, client.CoreV1Api(as_worker))
        secret = _the_release_is_available_restricted_and_behind_the_ingress(store, wait)
        _an_upgrade_keeps_the_secret_and_reruns_the_install(store, secret)
        k8s.run(
            "helm", "uninstall", "store", "--namespace", store_ns,
            "--kube-as-user", platform.worker, "--wait", "--timeout", "60s",
        )  # fmt: skip
        client.CoreV1Api(as_worker).delete_namespace(store_ns)
        wait(
            admin_core.list_namespace,
            lambda nss: all(n.metadata.name != store_ns for n in nss),
            timeout=90,
            what=f"namespace {store_ns} to be finalised",
        )
    finally:
        as_worker.close()
        if volume:
            try:
                admin_core.delete_persistent_volume(volume)
            except ApiException as exc:
                if exc.status != 404:
                    raise


def _prepare_the_namespace_as_the_driver_does(
    store: _StoreAsWorker, core: client.CoreV1Api
) -> str | None:
    """What the driver does before the release: namespace, RoleBinding, admin
    Secret. The namespace enforces the restricted Pod Security Standard: the
    store's pods must pass it. A volume when the node is simulated."""
    store_ns = store.namespace
    core.create_namespace(_namespace(store_ns, _store_labels()))
    _bind_worker(client.RbacAuthorizationV1Api(core.api_client), store.platform, store_ns)
    _until_allowed(
        lambda: core.create_namespaced_secret(
            store_ns,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name="store-admin"),
                string_data={"password": "admin-password-from-the-user"},
            ),
        ),
        "create the admin Secret",
    )
    if not store.k8s.simulated:
        return None
    volume = f"charts-test-{store_ns}"
    store.k8s.bind_volume(volume, store_ns, "store-data")
    return volume


def _the_release_is_available_restricted_and_behind_the_ingress(
    store: _StoreAsWorker, wait
) -> dict:
    k8s, store_ns = store.k8s, store.namespace
    admin_core = client.CoreV1Api(k8s.api)
    apps, batch = client.AppsV1Api(k8s.api), client.BatchV1Api(k8s.api)
    started = time.monotonic()
    store.helm(values=store.identity)
    wait(
        apps.list_namespaced_deployment,
        lambda ds: any(d.metadata.name == "store" and d.status.available_replicas for d in ds),
        namespace=store_ns,
        timeout=90,
        what="Deployment store to be available",
    )
    if k8s.simulated:
        wait(
            batch.list_namespaced_job,
            lambda js: any(j.metadata.name == "install-1" and j.status.succeeded for j in js),
            namespace=store_ns,
            timeout=60,
            what="Job install-1 to complete",
        )
    print(f"store release available in {time.monotonic() - started:.1f} s")

    service = admin_core.read_namespaced_service("store", store_ns)
    assert service.spec.type == "ClusterIP"  # behind the ingress (values-local.yaml)
    ingress = client.NetworkingV1Api(k8s.api).read_namespaced_ingress("store", store_ns)
    assert [r.host for r in ingress.spec.rules] == [store.host]
    quota = admin_core.read_namespaced_resource_quota("store-quota", store_ns)
    assert quota.spec.hard["requests.cpu"] == "1"  # plan small
    secret = admin_core.read_namespaced_secret("store-credentials", store_ns).data
    assert (
        base64.b64decode(secret["WORDPRESS_DB_PASSWORD"]).decode()
        == (STORE_VALUES["database"]["password"])
    )
    assert len(secret) == 9 and all(secret.values())
    pod_spec = apps.read_namespaced_deployment("store", store_ns).spec.template.spec
    assert pod_spec.automount_service_account_token is False
    context = pod_spec.containers[0].security_context
    assert context.allow_privilege_escalation is False
    assert context.capabilities.drop == ["ALL"] and context.run_as_non_root
    assert apps.read_namespaced_deployment("store", store_ns).spec.strategy.type == "Recreate"
    return dict(secret)


def _an_upgrade_keeps_the_secret_and_reruns_the_install(
    store: _StoreAsWorker, secret: dict
) -> None:
    """An upgrade (a bigger plan) with no secrets in its values: the Secret
    stays; the install runs again as a new Job of the new revision."""
    k8s, store_ns = store.k8s, store.namespace
    admin_core, batch = client.CoreV1Api(k8s.api), client.BatchV1Api(k8s.api)
    store.helm(
        values={
            **{k: v for k, v in store.identity.items() if k != "database"},
            "database": {k: v for k, v in STORE_VALUES["database"].items() if k != "password"},
            "plan": "medium",
        }
    )
    assert admin_core.read_namespaced_secret("store-credentials", store_ns).data == secret
    config = admin_core.read_namespaced_config_map("store-config", store_ns).data
    assert config["STOREFLEET_SITE_URL"] == store.identity["siteUrl"]
    assert config["STOREFLEET_PHP_WORKERS"] == "13"  # medium: 1 GiB
    quota = admin_core.read_namespaced_resource_quota("store-quota", store_ns)
    assert quota.spec.hard["requests.cpu"] == "2"  # plan medium
    jobs = [j.metadata.name for j in batch.list_namespaced_job(store_ns).items]
    assert jobs == ["install-2"], jobs


# -- deploy.sh ---------------------------------------------------------------------


def test_deploy_script_installs_prints_the_login_and_uninstalls(k8s, tmp_path):
    """The set-up flow of docs/deploy.md, on the test cluster (its pods on the
    simulated nodes here; test_placements.py runs it on the real node)."""
    core = client.CoreV1Api(k8s.api)
    suffix = uuid.uuid4().hex[:6]
    namespace, release = f"charts-test-deploy-{suffix}", f"ctd{suffix}"
    env = dict(
        os.environ,
        KUBECONFIG=str(k8s.kubeconfig),
        PATH=f"{Path(k8s.kubectl).parent}{os.pathsep}{Path(k8s.helm).parent}{os.pathsep}"
        + os.environ.get("PATH", ""),
        STOREFLEET_NAMESPACE=namespace,
        STOREFLEET_RELEASE=release,
        HELM_CONFIG_HOME=str(k8s.helm_home / "config"),
        HELM_CACHE_HOME=str(k8s.helm_home / "cache"),
        HELM_DATA_HOME=str(k8s.helm_home / "data"),
    )
    volumes = []
    placement = _values_file(tmp_path, "placement.yaml", k8s.on_simulated_nodes())
    if k8s.simulated:
        # --wait needs the databases' claims bound: volumes for them, up front.
        for component in ("mysql", "stores-mysql", "redis"):
            name = f"charts-test-{suffix}-deploy-{component}"
            k8s.bind_volume(name, namespace, f"data-{release}-{component}-0", size="50Gi")
            volumes.append(name)

    def deploy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO_ROOT / "deploy.sh"), "--timeout", "120s", "--values", str(placement), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        if k8s.simulated:
            # The test cluster of make k8s-up is a local context: no --allow-context.
            first_args: tuple[str, ...] = ()
        else:
            refused = deploy()
            assert refused.returncode != 0 and "--allow-context" in refused.stderr
            first_args = ("--allow-context",)
        started = time.monotonic()
        first = deploy(*first_args)
        assert first.returncode == 0, first.stdout + first.stderr
        print(f"deploy.sh installed and rolled out in {time.monotonic() - started:.1f} s")
        password = base64.b64decode(
            core.read_namespaced_secret(release, namespace).data["admin-password"]
        ).decode()
        assert f"Password:   {password}" in first.stdout
        assert "Sign in as: admin@example.com" in first.stdout
        node_port = core.read_namespaced_service(f"{release}-api", namespace).spec.ports[0]
        assert f":{node_port.node_port}" in first.stdout
        labels = core.read_namespace(namespace).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

        # Running it again upgrades in place; the generated password stays.
        again = deploy("--allow-context")
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"Password:   {password}" in again.stdout

        gone = deploy("--allow-context", "--uninstall")
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert _status_of(lambda: core.read_namespace(namespace)) == 404

        # A namespace of that name that no release of deploy.sh made (as
        # `STOREFLEET_DRIVER=kubernetes make up` makes one): left alone.
        core.create_namespace(_namespace(namespace, {"storefleet.dev/test": "true"}))
        kept = deploy("--allow-context", "--uninstall")
        assert kept.returncode != 0 and "did not make; not deleting it" in kept.stderr, kept
        assert core.read_namespace(namespace).status.phase == "Active"
    finally:
        _delete_namespace(core, namespace)
        for name in volumes:
            try:
                core.delete_persistent_volume(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


# -- the plan sizes php-fpm and PHP; the wildcard-certificate option ---------------------


def _render(k8s, chart: Path, tmp_path: Path, *values: dict, flavour: str = "local") -> list[dict]:
    args = ["-f", str(chart / f"values-{flavour}.yaml")]
    for n, v in enumerate(values):
        args += ["-f", str(_values_file(tmp_path, f"v{n}.yaml", v))]
    return _documents(k8s.run("helm", "template", "ct", str(chart), *args).stdout)


@pytest.mark.parametrize(
    ("plan", "workers", "php", "opcache", "volume"),
    [("small", "5", "176M", "96", "5Gi"), ("medium", "13", "256M", "128", "20Gi"),
     ("large", "29", "256M", "128", "50Gi")],
)  # fmt: skip
def test_a_plan_sizes_php_fpm_php_and_the_volume(
    k8s, tmp_path, plan, workers, php, opcache, volume
):
    """README.md, "Sizing": php-fpm's workers = (L - opcache - 64 MiB) / 64
    MiB, PHP's memory limit = half of that, clamped to 128-256 MiB — the
    platform's plans (storefleet.plans) to the number. The store pod's
    nginx and php-fpm write only to emptyDirs; its liveness is nginx's own."""
    docs = _render(k8s, STORE_CHART, tmp_path, STORE_VALUES, {"plan": plan})
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "store-config"
    )
    data = config["data"]
    assert (data["STOREFLEET_PHP_WORKERS"], data["STOREFLEET_PHP_MEMORY_LIMIT"]) == (workers, php)
    assert data["STOREFLEET_OPCACHE_MB"] == opcache
    assert not [k for k in data if k.startswith("APACHE")], data
    same = plans.find(plans.DEFAULT_PLANS, plan)
    assert (same.php_workers, f"{same.php_memory_mib}M", same.opcache_mib) == (
        int(workers), php, int(opcache),
    )  # fmt: skip
    claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == volume
    quota = next(d for d in docs if d["kind"] == "ResourceQuota")["spec"]["hard"]
    assert {"requests.ephemeral-storage", "limits.ephemeral-storage"} <= set(quota)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (web,) = pod["containers"]
    assert web["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in web["volumeMounts"]}
    assert mounts["/var/cache/storefleet"]["emptyDir"] == {"sizeLimit": "192Mi"}
    assert "emptyDir" in mounts["/tmp"]
    assert web["livenessProbe"]["httpGet"]["path"] == "/storefleet-health"
    assert web["readinessProbe"]["httpGet"]["path"] == "/wp-login.php"
    if plan == "small":  # an operator's number of workers wins over the formula
        docs = _render(k8s, STORE_CHART, tmp_path, STORE_VALUES, {"sizing": {"phpWorkers": 3}})
        config = next(d for d in docs if d["metadata"]["name"] == "store-config")
        assert config["data"]["STOREFLEET_PHP_WORKERS"] == "3"


def test_single_replica_servers_and_stores_stay_in_their_service_through_a_slow_minute(
    k8s, tmp_path
):
    """One pod behind each of these Services: "not ready" refuses every client
    at once. A slow probe on a busy node must not do that; only a minute of
    failures in a row, and no probe answer is cut at kubelet's 1 s default."""
    platform = _render(k8s, PLATFORM_CHART, tmp_path)
    store = _render(k8s, STORE_CHART, tmp_path, STORE_VALUES)
    checked = []
    for doc in platform + store:
        if doc["kind"] not in ("StatefulSet", "Deployment"):
            continue
        if doc["metadata"]["name"].endswith(("-api", "-worker")):
            continue  # several replicas
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for kind in ("readinessProbe", "livenessProbe"):
                probe = container[kind]
                period = probe.get("periodSeconds", 10)
                assert period * probe.get("failureThreshold", 3) >= 60, (doc["metadata"], kind)
                assert probe.get("timeoutSeconds", 1) >= 5, (doc["metadata"], kind)
            checked.append(doc["metadata"]["name"])
    assert len(checked) >= 4, checked  # mysql, stores-mysql, redis, the store


def test_the_wildcard_certificate_option_renders_one_certificate_as_the_ingress_default(
    k8s, tmp_path
):
    platform = _render(
        k8s, PLATFORM_CHART, tmp_path,
        {"store": {"wildcardCertificate": {"enabled": True}}}, flavour="k3s",
    )  # fmt: skip
    (cert,) = [d for d in platform if d["kind"] == "Certificate"]
    assert cert["spec"]["dnsNames"] == ["*.shops.example.com"]
    (store_default,) = [d for d in platform if d["kind"] == "TLSStore"]
    assert store_default["metadata"]["name"] == "default"
    assert store_default["spec"]["defaultCertificate"]["secretName"] == cert["spec"]["secretName"]
    store_values = yaml.safe_load(
        next(
            d
            for d in platform
            if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("store-values")
        )["data"]["store-values.yaml"]
    )
    tls = store_values["ingress"]["tls"]
    assert tls["enabled"] is True and tls["wildcard"] is True

    # A store then asks for no certificate of its own.
    host = {"ingress": {"host": "demo.shops.example.com"}}
    store = _render(k8s, STORE_CHART, tmp_path, store_values, STORE_VALUES, host, flavour="k3s")
    (ingress,) = [d for d in store if d["kind"] == "Ingress"]
    assert ingress["spec"]["tls"] == [{"hosts": ["demo.shops.example.com"]}]
    assert "cert-manager.io/cluster-issuer" not in (ingress["metadata"].get("annotations") or {})
    assert not [
        d
        for d in store
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "acme-http01-solver"
    ]


def test_tls_stores_probe_with_the_forwarded_scheme_and_smtp_reaches_the_pod(k8s, tmp_path):
    values = dict(STORE_VALUES, siteUrl="https://demo.shops.example.com")
    smtp = {"smtp": {"host": "smtp.example.com", "user": "shop", "password": "smtp-secret"}}
    docs = _render(
        k8s, STORE_CHART, tmp_path, values, smtp, {"ingress": {"tls": {"enabled": True}}}
    )
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    headers = dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "httpHeaders"
    ]
    assert headers == [
        {"name": "Host", "value": "demo.shops.example.com"},
        {"name": "X-Forwarded-Proto", "value": "https"},
    ]
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "store-config"
    )
    assert config["data"]["STOREFLEET_SMTP_HOST"] == "smtp.example.com"
    assert config["data"]["STOREFLEET_SMTP_USER"] == "shop"
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    assert base64.b64decode(secret["data"]["STOREFLEET_SMTP_PASSWORD"]).decode() == "smtp-secret"
    assert "smtp-secret" not in json.dumps(config)
