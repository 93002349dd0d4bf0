"""RBAC is enforced: a ServiceAccount gets exactly the rights bound to it.
The admin identity impersonates the ServiceAccount, as the platform's tests
will to prove the worker's role is sufficient and no wider."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _status_of(call) -> int:
    try:
        call()
    except ApiException as exc:
        return exc.status
    return 200


def test_service_account_without_rights_is_forbidden(k8s, namespace):
    core, rbac = client.CoreV1Api(k8s.api), client.RbacAuthorizationV1Api(k8s.api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    user = f"system:serviceaccount:{namespace}:nobody"
    as_nobody = k8s.api_client_as(user)
    core_as_nobody = client.CoreV1Api(as_nobody)

    with pytest.raises(ApiException) as denied:
        core_as_nobody.list_namespaced_pod(namespace)
    assert denied.value.status == 403
    message = json.loads(denied.value.body)["message"]
    assert f'User "{user}" cannot list resource "pods"' in message
    assert (
        _status_of(
            lambda: core_as_nobody.create_namespaced_config_map(
                namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
            )
        )
        == 403
    )

    # Positive control: once a Role is bound, the same identity may read pods
    # (so the 403 above came from RBAC, not from a broken client) — and nothing more.
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="nobody-reads-pods"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="nobody", namespace=namespace)
            ],
        ),
    )
    # The authorizer learns about the binding through its informer; allow it a moment.
    deadline = time.monotonic() + 15
    while (status := _status_of(lambda: core_as_nobody.list_namespaced_pod(namespace))) == 403:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, "the RoleBinding did not grant list pods"
    assert _status_of(lambda: core_as_nobody.list_namespaced_secret(namespace)) == 403
    assert _status_of(lambda: core_as_nobody.list_namespaced_pod("default")) == 403
    assert _status_of(lambda: core_as_nobody.list_namespace()) == 403
    as_nobody.close()
