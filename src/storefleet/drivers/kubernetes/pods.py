"""A store's pods: which one runs the store and on what node (a simulated
kwok node serves nothing), where to send its storefront check, why it is not
serving, and commands run in it by exec — the installer's transport among
them (the store image carries the installer in /opt/storefleet/installer).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import STDIN_CHANNEL, V5_CHANNEL_PROTOCOL

from storefleet.config import Settings
from storefleet.drivers.base import (
    PermanentError,
    StepContext,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.installer import InstallerRun
from storefleet.drivers.kubernetes.cluster import Cluster, api_error
from storefleet.drivers.kubernetes.names import (
    CONTAINER,
    DEPLOYMENT,
    DOCROOT,
    INSTALLER,
    SERVICE,
    WEB_SELECTOR,
    StoreNames,
)
from storefleet.drivers.verify import storefront_request

_KWOK_ANNOTATION = "kwok.x-k8s.io/node"
#: Warnings older than this do not explain why a store is down now.
_RECENT = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    returncode: int | None


class StorePods:
    def __init__(self, settings: Settings, cluster: Cluster, names: StoreNames) -> None:
        self.settings = settings
        self.cluster = cluster
        self.names = names

    # -- where the store runs and how to reach it --------------------------------

    def simulated_node(self, store: StoreSnapshot) -> str | None:
        """The simulated (kwok) node the store's pod runs on, or None when it
        runs on a real one. Read from the pod's node; a worker that may not
        read nodes falls back to STOREFLEET_K8S_NODES_SIMULATED."""
        ns = self.names.namespace(store)
        core = self.cluster.core
        try:
            pods = core.list_namespaced_pod(ns, label_selector=WEB_SELECTOR).items
        except ApiException as exc:
            raise api_error(f"listing the store's pods in {ns}", exc) from exc
        nodes = sorted({p.spec.node_name for p in pods if p.spec and p.spec.node_name})
        for name in nodes:
            try:
                node = core.read_node(name)
            except ApiException as exc:
                if exc.status in (403, 404):
                    return name if self.settings.k8s_nodes_simulated else None
                raise api_error(f"reading node {name}", exc) from exc
            if (node.metadata.annotations or {}).get(_KWOK_ANNOTATION) == "fake":
                return str(name)
        return None

    @property
    def extra_cas(self) -> str | None:
        """CAs trusted besides the system's for stores' certificates."""
        bundle = self.settings.acme_ca_bundle
        return str(bundle) if bundle else None

    def storefront(self, store: StoreSnapshot) -> tuple[str, dict[str, str], str | None]:
        """Where to send the storefront check, the headers that make the
        store answer as it does to its visitors (its Host, and the scheme
        TLS ends with), and the TLS server name when it is not the address's:
        the Service from inside the cluster, the store's address from outside
        (a custom domain through the ingress that answers the store's name)."""
        if not store.url:
            raise PermanentError("the store has no URL (the endpoint step did not run)")
        if self.cluster.in_cluster:
            url = urlsplit(store.url)
            headers = {"Host": url.netloc}
            if url.scheme == "https":
                headers["X-Forwarded-Proto"] = "https"
            return (
                f"http://{SERVICE}.{self.names.namespace(store)}.svc.cluster.local/",
                headers,
                None,
            )
        own = self.names.ingress_url(store)
        parts = urlsplit(store.url)
        if own is not None and parts.hostname != urlsplit(own).hostname and parts.scheme == "https":
            ingress = urlsplit(storefront_request(own)[0]).hostname
            base = f"https://{ingress}:{parts.port or 443}/"
            return base, {"Host": parts.netloc}, parts.hostname
        base, headers = storefront_request(store.url)
        return base, headers, None

    def state(self, store: StoreSnapshot) -> str:
        """Why the store's pod is not serving, in a sentence."""
        ns = self.names.namespace(store)
        try:
            pods = self.cluster.core.list_namespaced_pod(ns, label_selector=WEB_SELECTOR)
        except ApiException as exc:
            return f"its pods could not be read ({exc.status})"
        parts = []
        for pod in pods.items:
            for cs in pod.status.container_statuses or []:
                state = cs.state
                if state.waiting:
                    parts.append(f"{pod.metadata.name}: waiting ({state.waiting.reason})")
                elif state.terminated:
                    parts.append(f"{pod.metadata.name}: terminated ({state.terminated.reason})")
                elif not cs.ready:
                    parts.append(f"{pod.metadata.name}: not ready")
                if cs.restart_count:
                    parts.append(f"{cs.restart_count} restart(s)")
        if not pods.items:
            parts.append(self._no_pod(ns))
        # Recent ones only: the install's, say, are not why it is down now.
        warnings = self.cluster.warnings(ns, since=dt.datetime.now(dt.UTC) - _RECENT)
        if warnings:
            parts.append(f"events: {warnings}")
        return "; ".join(parts) or "its pod looks healthy"

    def _no_pod(self, ns: str) -> str:
        try:
            replicas = self.cluster.apps.read_namespaced_deployment(DEPLOYMENT, ns).spec.replicas
        except ApiException as exc:
            return f"no pod is running, and its Deployment could not be read ({exc.status})"
        if replicas == 0:
            return "no pod is running: its Deployment is scaled to 0"
        return "no pod is running"

    # -- exec in the store's pod ------------------------------------------------------

    def _pod(self, ns: str) -> str:
        pods = self.cluster.core.list_namespaced_pod(ns, field_selector="status.phase=Running")
        for pod in pods.items:
            if any(c.name == CONTAINER for c in pod.spec.containers):
                return str(pod.metadata.name)
        raise TransientError(f"no running store pod in {ns}")

    def exec(self, ctx: StepContext, command: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``command`` in the store's container, within the step's deadline."""
        ns = self.names.namespace(ctx.store)
        core = self.cluster.core
        try:
            resp = stream(
                core.connect_get_namespaced_pod_exec, self._pod(ns), ns,
                container=CONTAINER, command=command, stdin=stdin is not None,
                stdout=True, stderr=True, tty=False, _preload_content=False,
            )  # fmt: skip
        except ApiException as exc:
            raise PermanentError(f"exec in the store's pod was refused ({exc.status})") from exc
        out: list[str] = []
        err: list[str] = []
        if stdin is not None:
            chunk = 1 << 16
            for i in range(0, len(stdin), chunk):
                resp.write_stdin(stdin[i : i + chunk].decode("ascii"))
            # The end of the input: only the v5 protocol can say so (an empty
            # write is not an end), and without it the command waits forever.
            if resp.subprotocol != V5_CHANNEL_PROTOCOL:
                resp.close()
                raise PermanentError(
                    f"the API server speaks {resp.subprotocol}, not {V5_CHANNEL_PROTOCOL}: "
                    "input cannot be ended (Kubernetes 1.30 or later is needed)"
                )
            resp.close_channel(STDIN_CHANNEL)
        while resp.is_open():
            resp.update(timeout=max(1, min(30, int(ctx.remaining()))))
            if resp.peek_stdout():
                out.append(resp.read_stdout())
            if resp.peek_stderr():
                err.append(resp.read_stderr())
            if ctx.remaining() <= 0:
                resp.close()
                raise TransientError(f"{command[0]} in the store's pod did not finish in time")
        resp.close()
        try:
            code = resp.returncode
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # The error channel held no exit status but a message, such as a
            # node that could not be reached ("unable to upgrade connection").
            raise TransientError(f"exec in the store's pod broke off: {exc}") from exc
        return ExecResult("".join(out), "".join(err), code)

    def run(self, ctx: StepContext, command: list[str], stdin: bytes | None = None) -> str:
        """``command``'s stdout; a step error when it fails."""
        result = self.exec(ctx, command, stdin)
        if result.returncode not in (0, None):
            raise PermanentError(
                f"{' '.join(command[:2])} in the store's pod failed: {result.stderr[-300:]}"
            )
        return result.stdout

    def run_installer(self, ctx: StepContext, request: str) -> InstallerRun:
        """The installer's transport: PHP in the store's container (the
        request travels base64-encoded on stdin, never in argv)."""
        body = base64.b64encode(request.encode())
        result = self.exec(ctx, ["sh", "-c", f"base64 -d | php {INSTALLER} {DOCROOT}"], stdin=body)
        return InstallerRun(result.stdout, result.stderr, result.returncode)
