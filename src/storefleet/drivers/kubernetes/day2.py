"""The Kubernetes driver's own day-2 steps (what both drivers do alike — the
database, the installer's adopt/upgrade/checkout actions — is
``drivers/shared_steps.py``); run on the test environment's real node by
tests/k8s/test_stores.py.

- health: the same check as verify (the Service from inside the cluster, the
  ingress from outside, with the store's Host); a failure carries the pod's
  state (waiting/terminated reasons, restarts) and the namespace's recent
  warning events.
- backup and restore of wp-content, streamed out of and into the store's pod
  (``tar | base64`` over exec).
- restart: the Deployment's pod replaced (after a restore or a clone).
- suspend / resume: the Deployment scaled to zero and back (then verified as
  on provisioning). Suspended only once its pod is gone (a stopping pod
  serves through its grace period, and the ingress may still route to it).
  The Service then has no endpoint: visitors get the ingress's 503, and the
  store's volume, database and Secrets stay.
- upgrade: not yet — the chart's install Job runs the installer's upgrade on
  every new release revision (a new image tag rolls it out, tested on the
  node), but the platform has no map from a release pair (WordPress +
  WooCommerce) to a store image yet.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from storefleet._tarfile import tarfile
from storefleet.backups import archive
from storefleet.drivers.base import (
    PermanentError,
    StepContext,
    StepOutcome,
    StoreSnapshot,
    TransientError,
)
from storefleet.drivers.kubernetes.cluster import NETWORK, Cluster, api_error
from storefleet.drivers.kubernetes.names import CONTENT, DEPLOYMENT, ENTRYPOINT, StoreNames
from storefleet.drivers.kubernetes.pods import StorePods
from storefleet.drivers.verify import check_storefront


class StoreDay2:
    def __init__(self, cluster: Cluster, names: StoreNames, pods: StorePods) -> None:
        self.cluster = cluster
        self.names = names
        self.pods = pods

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        node = self.pods.simulated_node(store)
        if node is not None:  # as verify: nothing serves there
            return f"not verifiable: the store's pod runs on the simulated node {node}"
        try:
            base, headers, sni = self.pods.storefront(store)
            return check_storefront(
                base, store.name, timeout=timeout, headers=headers, sni=sni,
                extra_cas=self.pods.extra_cas,
            )  # fmt: skip
        except (TransientError, PermanentError) as exc:
            raise type(exc)(f"{exc}; {self.pods.state(store)}") from exc

    # -- wp-content in and out of the pod ---------------------------------------

    def backup_files_step(self, ctx: StepContext) -> StepOutcome:
        target: Path = ctx.workdir / archive.FILES
        node = self.pods.simulated_node(ctx.store)
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
        encoded = self.pods.run(
            ctx,
            ["sh", "-c", f"cd {CONTENT} && find . -mindepth 1 -maxdepth 1 -printf '%P\\0'"
             " | tar -czf - --null -T - | base64"],
        )  # fmt: skip
        target.write_bytes(base64.b64decode(encoded))
        size = target.stat().st_size
        return StepOutcome(f"wp-content: {size / 1024:.0f} KiB", facts={"files": {"bytes": size}})

    def restore_files_step(self, ctx: StepContext) -> StepOutcome:
        data = base64.b64encode((ctx.workdir / archive.FILES).read_bytes())
        # A local store's backup (an imported store's) has no links to the
        # image's themes and WooCommerce, and may hold empty directories where
        # they go (the release files in them are not backed up): those go, and
        # the image's entrypoint lays the links out again, as in a new pod.
        self.pods.run(
            ctx,
            ["sh", "-c", f"base64 -d > /tmp/sf-restore.tgz && find {CONTENT} -mindepth 1 -delete"
             f" && tar -xzf /tmp/sf-restore.tgz -C {CONTENT} --no-same-owner"
             " && rm -f /tmp/sf-restore.tgz"
             f" && for d in {CONTENT}/plugins/woocommerce {CONTENT}/themes/*; do"
             ' if [ -d "$d" ] && [ ! -L "$d" ] && [ -z "$(find "$d" ! -type d -print -quit)" ];'
             ' then rm -rf "$d"; fi; done'
             f" && {ENTRYPOINT} true"],
            stdin=data,
        )  # fmt: skip
        return StepOutcome(
            "wp-content replaced by the backup's; the image's release links laid out"
        )

    def push_files_step(self, ctx: StepContext) -> StepOutcome:
        """A staging copy's wp-content (``params['staging']``), out of its
        pod and into this store's, in place of this store's own."""
        staging = ctx.operation.params.get("staging")
        if not isinstance(staging, dict) or not staging.get("uid"):
            raise PermanentError("the operation names no staging copy")
        source = copy.copy(ctx)
        source.store = StoreSnapshot(
            id=int(staging["id"]), name=str(staging["name"]), uid=str(staging["uid"]),
            admin_email=ctx.store.admin_email, url=staging.get("url"),
        )  # fmt: skip
        taken = self.backup_files_step(source)
        if taken.skipped:
            raise PermanentError(f"the staging copy's files cannot be read: {taken.message}")
        self.restore_files_step(ctx)
        return StepOutcome(f"wp-content of staging copy {staging['name']} in place of the store's")

    # -- the Deployment ------------------------------------------------------------------

    def restart_step(self, ctx: StepContext) -> StepOutcome:
        ns = self.names.namespace(ctx.store)
        at = dt.datetime.now(dt.UTC).isoformat()
        body = {"spec": {"template": {"metadata": {"annotations": {
            "storefleet.io/restarted-at": at}}}}}  # fmt: skip
        try:
            self.cluster.apps.patch_namespaced_deployment(DEPLOYMENT, ns, body)
        except ApiException as exc:
            raise PermanentError(f"could not restart the store ({exc.status})") from exc
        return StepOutcome("the store's pod is restarted")

    def scale_step(self, replicas: int) -> Callable[[StepContext], StepOutcome]:
        def run(ctx: StepContext) -> StepOutcome:
            ns = self.names.namespace(ctx.store)
            try:
                self.cluster.apps.patch_namespaced_deployment(
                    DEPLOYMENT, ns, {"spec": {"replicas": replicas}}
                )
            except ApiException as exc:
                raise PermanentError(
                    f"could not scale the store to {replicas} ({exc.status})"
                ) from exc
            return StepOutcome(f"Deployment {DEPLOYMENT} scaled to {replicas}")

        return run

    def stopped_step(self, ctx: StepContext) -> StepOutcome:
        """No pod of the store's Deployment is left, stopping ones included."""
        ns = self.names.namespace(ctx.store)
        left: list[str] = []
        try:
            dep = self.cluster.apps.read_namespaced_deployment(DEPLOYMENT, ns)
            labels = dep.spec.selector.match_labels or {}
            selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            while True:
                ctx.check_stop()
                pods = self.cluster.core.list_namespaced_pod(ns, label_selector=selector).items
                left = [p.metadata.name for p in pods]
                if not left or ctx.remaining() <= 1:
                    break
                time.sleep(1)
        except ApiException as exc:
            raise api_error("listing the store's pods", exc) from exc
        except NETWORK as exc:
            raise TransientError(f"listing the store's pods: {exc}") from exc
        if left:
            raise TransientError(f"the store's pod is still stopping: {', '.join(left)}")
        return StepOutcome("no pod of the store runs")
