"""The cluster as the Kubernetes driver reaches it: which cluster (in-cluster,
KUBECONFIG, ~/.kube/config, or the test environment's), the API clients the
driver uses, the errors worth retrying, and waiting by watch with the step's
deadline (never fixed sleeps)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, TransientError

# Errors talking to the API server that are worth retrying.
NETWORK = (Urllib3HTTPError, OSError)


def api_error(what: str, exc: ApiException) -> Exception:
    """A step error for an API server's refusal: transient for the statuses
    that pass (throttling, an unavailable server), else with its message."""
    if exc.status in (429, 500, 502, 503, 504) or exc.status is None:
        return TransientError(f"{what}: the API server answered {exc.status} {exc.reason}")
    detail = exc.reason
    if exc.body:
        try:
            detail = json.loads(exc.body).get("message", detail)
        except ValueError:
            pass
    return PermanentError(f"{what}: {detail} ({exc.status})")


def decode(data: dict[str, str] | None) -> dict[str, str]:
    """A Secret's data, decoded."""
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


class Cluster:
    """The API clients of one cluster, and where its kubeconfig and helm are."""

    def __init__(self, settings: Settings, api_client: client.ApiClient | None = None) -> None:
        self.settings = settings
        self.in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
        self.kubeconfig = self._kubeconfig()
        self.api = api_client or self._load_client(self.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.authz = client.AuthorizationV1Api(self.api)

    def _kubeconfig(self) -> Path | None:
        """The test environment's kubeconfig (``make k8s-up``) when nothing
        else names a cluster: not in a pod, no KUBECONFIG, no ~/.kube/config."""
        if self.in_cluster or os.environ.get("KUBECONFIG"):
            return None
        if (Path.home() / ".kube" / "config").is_file():
            return None
        candidate = self.settings.k8s_testenv_dir / "kubeconfig"
        return candidate if candidate.is_file() else None

    def helm_binary(self) -> str:
        configured = self.settings.helm_binary
        if os.sep in configured or shutil.which(configured):
            return configured
        candidate = self.settings.k8s_testenv_dir / "bin" / configured
        return str(candidate) if candidate.exists() else configured

    def helm_env(self) -> dict[str, str] | None:
        """helm's environment: this cluster's kubeconfig when it is not the default."""
        if self.kubeconfig is None:
            return None
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    @staticmethod
    def _load_client(kubeconfig: Path | None) -> client.ApiClient:
        try:
            config.load_incluster_config()
        except ConfigException:
            try:
                config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None)
            except (ConfigException, OSError) as exc:
                raise PermanentError(
                    "no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config, in-cluster, "
                    f"or `make k8s-up`'s var/k8s/kubeconfig): {exc}"
                ) from exc
        return client.ApiClient()

    def check(self) -> None:
        """The API server answers this identity."""
        try:
            client.VersionApi(self.api).get_code()
        except ApiException as exc:
            raise api_error("the Kubernetes API server", exc) from exc
        except NETWORK as exc:
            raise PermanentError(f"the Kubernetes API server is not reachable: {exc}") from exc

    # -- waiting ----------------------------------------------------------------

    def wait_for(
        self,
        list_fn: Callable[..., Any],
        ns: str,
        name: str,
        predicate: Callable[[Any], bool],
        ctx: StepContext,
        what: str,
        reason: Callable[[], str] | None = None,
    ) -> None:
        """Watch one object until ``predicate`` holds, up to the step deadline."""
        selector = f"metadata.name={name}"
        w = watch.Watch()
        try:
            while ctx.remaining() > 0:
                ctx.check_stop()
                current = list_fn(ns, field_selector=selector)
                if current.items and predicate(current.items[0]):
                    return
                for event in w.stream(
                    list_fn,
                    ns,
                    field_selector=selector,
                    resource_version=current.metadata.resource_version,
                    timeout_seconds=max(1, min(15, int(ctx.remaining()))),
                ):
                    if event["type"] in ("ADDED", "MODIFIED") and predicate(event["object"]):
                        return
        except ApiException as exc:
            if exc.status == 410:  # resource version too old: list again next time
                raise TransientError(f"watching {what}: history expired") from exc
            raise api_error(f"watching {what}", exc) from exc
        except NETWORK as exc:
            raise TransientError(f"watching {what}: {exc}") from exc
        finally:
            w.stop()
        extra = reason() if reason else ""
        raise TransientError(f"{what} was not ready in time" + (f" ({extra})" if extra else ""))

    def wait_namespace_gone(self, ns: str, ctx: StepContext) -> None:
        w = watch.Watch()
        try:
            while ctx.remaining() > 0:
                try:
                    self.core.read_namespace(ns)
                except ApiException as exc:
                    if exc.status == 404:
                        return
                    raise api_error(f"reading namespace {ns}", exc) from exc
                for event in w.stream(
                    self.core.list_namespace,
                    field_selector=f"metadata.name={ns}",
                    timeout_seconds=max(1, min(30, int(ctx.remaining()))),
                ):
                    if event["type"] == "DELETED":
                        return
                ctx.check_stop()
        except NETWORK as exc:
            raise TransientError(f"watching namespace {ns}: {exc}") from exc
        finally:
            w.stop()
        raise TransientError(f"namespace {ns} is still terminating")

    def warnings(self, ns: str, since: dt.datetime | None = None) -> str:
        """The namespace's last three warnings (those since ``since``)."""
        try:
            events = self.core.list_namespaced_event(ns, field_selector="type=Warning").items
        except ApiException:
            return ""

        def when(e: Any) -> dt.datetime:
            return e.last_timestamp or e.event_time or e.metadata.creation_timestamp

        events = [e for e in events if since is None or when(e) >= since]
        events.sort(key=when)
        return "; ".join(f"{e.reason}: {e.message}" for e in events[-3:])
