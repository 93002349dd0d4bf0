"""The Kubernetes driver's half of the day-2 operations: step functions the
runner composes with the platform's own (see provisioning/operations.py).

Run on the test environment's real node by tests/k8s/test_day2.py.

- health: the same check as verify (the Service from inside the cluster, the
  ingress from outside, with the store's Host); a failure carries the pod's
  state (waiting/terminated reasons, restarts) and the namespace's last
  warning events.
- backup: the database through the shared dump (as the store's own user);
  wp-content streamed out of the store's pod (``tar | base64`` over exec).
- restore: the database loaded as the store's user, wp-content streamed into
  the pod, the installer's ``adopt`` run in the pod, the Deployment restarted.
- checkout test: the installer's ``checkout-product`` and ``confirm-order``
  run in the store's pod (the image carries /opt/storefleet/installer).
- suspend / resume: the Deployment scaled to zero and back (then verified as
  on provisioning). The Service then
  has no endpoint: visitors get no answer (or the ingress's 503), and the
  store's volume, database and Secrets stay.
- upgrade: not yet — the chart's install Job runs the installer's upgrade on
  every new release revision (a new image tag rolls it out, tested on the
  node), but the platform has no map from a release pair (WordPress +
  WooCommerce) to a store image yet.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import STDIN_CHANNEL, V5_CHANNEL_PROTOCOL

from storefleet.backups import archive
from storefleet.drivers.base import (
    NotSupported,
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.verify import check_storefront

DOCROOT = "/var/www/html"
CONTENT = f"{DOCROOT}/wp-content"
INSTALLER = "/opt/storefleet/installer/storefleet-install.php"
CONTAINER = "wordpress"
#: Warnings older than this do not explain why a store is down now.
_RECENT = dt.timedelta(minutes=10)


class Day2Steps:
    """Mixed into KubernetesDriver; uses its API clients and names."""

    # Provided by KubernetesDriver.
    core: Any
    apps: Any
    databases: Any
    settings: Any
    _in_cluster: bool

    def namespace(self, store: StoreSnapshot) -> str:  # pragma: no cover - KubernetesDriver's
        raise NotImplementedError

    def _credentials(self, store: StoreSnapshot) -> dict[str, str]:  # pragma: no cover
        raise NotImplementedError

    def _warnings(self, ns: str, since: dt.datetime | None = None) -> str:  # pragma: no cover
        raise NotImplementedError

    def _rollout(self, ctx: StepContext) -> StepOutcome:  # pragma: no cover
        raise NotImplementedError

    def _verify(self, ctx: StepContext) -> StepOutcome:  # pragma: no cover
        raise NotImplementedError

    def simulated_node(self, store: StoreSnapshot) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def storefront(self, store: StoreSnapshot) -> tuple[str, dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    # -- step lists ----------------------------------------------------------

    def backup_steps(self) -> Sequence[Step]:
        return (Step("database", self._backup_database), Step("files", self._backup_files))

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("database", self._restore_database, reads_scratch=True),
            Step("files", self._restore_files, reads_scratch=True),
            Step("address", self._adopt_address),
            Step("upgrade", self._upgrade_to_image),
            Step("restart", self._restart),
            Step("rollout", self._rollout),
        )

    def upgrade_steps(self) -> Sequence[Step]:
        def run(ctx: StepContext) -> StepOutcome:
            raise NotSupported(
                "the kubernetes driver cannot upgrade stores yet: it needs a store image per "
                "release pair (the install Job runs the upgrade once the image changes)"
            )

        return (Step("files", run),)

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("scale", self._scale_to(0)),)

    def resume_steps(self) -> Sequence[Step]:
        # Ready again only once visitors reach it: the ingress controller
        # routes to the new endpoint a moment after the rollout.
        return (
            Step("scale", self._scale_to(1)),
            Step("rollout", self._rollout),
            Step("verify", self._verify),
        )

    # -- health ----------------------------------------------------------------

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        ns = self.namespace(store)
        node = self.simulated_node(store)
        if node is not None:  # as verify: nothing serves there
            return f"not verifiable: the store's pod runs on the simulated node {node}"
        try:
            base, headers = self.storefront(store)
            return check_storefront(base, store.name, timeout=timeout, headers=headers)
        except (TransientError, PermanentError) as exc:
            raise type(exc)(f"{exc}; {self._pod_state(ns)}") from exc

    def _pod_state(self, ns: str) -> str:
        """Why the store's pod is not serving, in a sentence."""
        try:
            pods = self.core.list_namespaced_pod(
                ns, label_selector="app.kubernetes.io/component=web"
            )
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
        warnings = self._warnings(ns, since=dt.datetime.now(dt.UTC) - _RECENT)
        if warnings:
            parts.append(f"events: {warnings}")
        return "; ".join(parts) or "its pod looks healthy"

    def _no_pod(self, ns: str) -> str:
        try:
            replicas = self.apps.read_namespaced_deployment("store", ns).spec.replicas
        except ApiException as exc:
            return f"no pod is running, and its Deployment could not be read ({exc.status})"
        if replicas == 0:
            return "no pod is running: its Deployment is scaled to 0"
        return "no pod is running"

    # -- exec in the store's pod -------------------------------------------------

    def _pod(self, ns: str) -> str:
        pods = self.core.list_namespaced_pod(ns, field_selector="status.phase=Running")
        for pod in pods.items:
            if any(c.name == CONTAINER for c in pod.spec.containers):
                return str(pod.metadata.name)
        raise TransientError(f"no running store pod in {ns}")

    def _exec(self, ctx: StepContext, command: list[str], stdin: bytes | None = None) -> bytes:
        """Run ``command`` in the store's container; its stdout (text)."""
        ns = self.namespace(ctx.store)
        try:
            resp = stream(
                self.core.connect_get_namespaced_pod_exec, self._pod(ns), ns,
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
        if code not in (0, None):
            raise PermanentError(
                f"{' '.join(command[:2])} in the store's pod failed: {''.join(err)[-300:]}"
            )
        return "".join(out).encode()

    def _installer(self, ctx: StepContext, request: dict[str, object]) -> dict[str, Any]:
        sh = f"php {INSTALLER} {DOCROOT}"
        body = base64.b64encode(json.dumps(request).encode())
        out = self._exec(ctx, ["sh", "-c", f"base64 -d | {sh}"], stdin=body).decode()
        marker = [ln for ln in out.splitlines() if ln.startswith("STOREFLEET_RESULT ")]
        if not marker:
            raise PermanentError(f"the installer gave no result: {out[-300:]}")
        result: dict[str, Any] = json.loads(marker[-1].removeprefix("STOREFLEET_RESULT "))
        if not result.get("ok"):
            raise PermanentError(f"the installer failed: {result.get('error')}")
        return result

    # -- backup and restore ------------------------------------------------------

    def _backup_database(self, ctx: StepContext) -> StepOutcome:
        password = self._credentials(ctx.store)["db_password"]
        info = self.databases.dump(ctx.store.uid, password, ctx.workdir / archive.DATABASE)
        return StepOutcome(
            f"{info['tables']} tables, {info['rows']} rows (one consistent snapshot)",
            facts={"database": info},
        )

    def _backup_files(self, ctx: StepContext) -> StepOutcome:
        target: Path = ctx.workdir / archive.FILES
        node = self.simulated_node(ctx.store)
        if node is not None:
            # Nothing runs there and no disk holds its files: the backup keeps
            # the database and an empty wp-content, and says so.
            with tarfile.open(target, "w:gz"):
                pass
            return StepOutcome(
                f"not copied: the store's pod runs on the simulated node {node}, where no "
                "volume holds its files; the backup has the database and an empty wp-content",
                skipped=True,
                facts={"files": {"bytes": target.stat().st_size}},
            )
        # The whole wp-content: in the image, core and WooCommerce live
        # outside the volume's wp-content or are the image's own (recreated).
        # Entries named as the local driver names them ("uploads/a.jpg", no
        # "./" and no entry for the volume's root, which is not the store
        # user's to chmod on a restore).
        encoded = self._exec(
            ctx,
            ["sh", "-c", f"cd {CONTENT} && find . -mindepth 1 -maxdepth 1 -printf '%P\\0'"
             " | tar -czf - --null -T - | base64"],
        )  # fmt: skip
        target.write_bytes(base64.b64decode(encoded))
        size = target.stat().st_size
        return StepOutcome(f"wp-content: {size / 1024:.0f} KiB", facts={"files": {"bytes": size}})

    def _restore_database(self, ctx: StepContext) -> StepOutcome:
        password = self._credentials(ctx.store)["db_password"]
        info = self.databases.load(ctx.store.uid, password, ctx.workdir / archive.DATABASE)
        return StepOutcome(f"{info['tables']} tables loaded; the database's own marker kept")

    def _restore_files(self, ctx: StepContext) -> StepOutcome:
        data = base64.b64encode((ctx.workdir / archive.FILES).read_bytes())
        self._exec(
            ctx,
            ["sh", "-c", f"base64 -d > /tmp/sf-restore.tgz && find {CONTENT} -mindepth 1 -delete"
             f" && tar -xzf /tmp/sf-restore.tgz -C {CONTENT} --no-same-owner"
             " && rm -f /tmp/sf-restore.tgz"],
            stdin=data,
        )  # fmt: skip
        return StepOutcome("wp-content replaced by the backup's")

    def _adopt_address(self, ctx: StepContext) -> StepOutcome:
        if not ctx.store.url:
            raise PermanentError("the store has no URL")
        result = self._installer(ctx, {"action": "adopt", "url": ctx.store.url})
        return StepOutcome(
            f"address {result.get('url')} ({result.get('replaced')} value(s) changed)"
        )

    def _upgrade_to_image(self, ctx: StepContext) -> StepOutcome:
        """A store's releases are its image's: a database from a backup taken
        on older ones gets their database upgrades (nothing to do on the same
        releases), and the store records the releases it now runs."""
        result = self._installer(ctx, {"action": "upgrade", "url": ctx.store.url or ""})
        versions = {
            f"{product}_version": str(result[product])
            for product in ("wordpress", "woocommerce")
            if result.get(product)
        }
        ctx.record(**versions)
        return StepOutcome(
            f"WordPress {result.get('wordpress')} (database {result.get('wordpress_db_before')}"
            f" → {result.get('wordpress_db')}), WooCommerce {result.get('woocommerce')} "
            f"(database {result.get('woocommerce_db_before')} → {result.get('woocommerce_db')})"
        )

    def _restart(self, ctx: StepContext) -> StepOutcome:
        ns = self.namespace(ctx.store)
        at = dt.datetime.now(dt.UTC).isoformat()
        body = {"spec": {"template": {"metadata": {"annotations": {
            "storefleet.io/restarted-at": at}}}}}  # fmt: skip
        try:
            self.apps.patch_namespaced_deployment("store", ns, body)
        except ApiException as exc:
            raise PermanentError(f"could not restart the store ({exc.status})") from exc
        return StepOutcome("the store's pod is restarted")

    # -- checkout test -------------------------------------------------------------

    def checkout_product(self, ctx: StepContext) -> int:
        url = ctx.store.url or ""
        return int(self._installer(ctx, {"action": "checkout-product", "url": url})["product_id"])

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        url = ctx.store.url or ""
        result = self._installer(ctx, {"action": "confirm-order", "url": url, "order_id": order_id})
        return {k: result.get(k) for k in ("status", "payment_method", "total", "deleted")}

    # -- suspend and resume ---------------------------------------------------------

    def _scale_to(self, replicas: int) -> Any:
        def run(ctx: StepContext) -> StepOutcome:
            ns = self.namespace(ctx.store)
            try:
                self.apps.patch_namespaced_deployment("store", ns, {"spec": {"replicas": replicas}})
            except ApiException as exc:
                raise PermanentError(
                    f"could not scale the store to {replicas} ({exc.status})"
                ) from exc
            return StepOutcome(f"Deployment store scaled to {replicas}")

        return run
