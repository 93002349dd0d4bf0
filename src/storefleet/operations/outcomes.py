"""How an operation ends: succeeded (the store's phase moves on, with a
message on its timeline), failed (with the reason, the phase the lifecycle
gives a failure, and a failed upgrade followed at once by a restore from
the backup it took), or cancelled; and what follows every end (a fleet
upgrade's progress, webhook events)."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

from sqlalchemy.orm import Session

from storefleet.backups import service as backups
from storefleet.db import utcnow
from storefleet.operations import step_lists
from storefleet.operations.context import workdir
from storefleet.operations.lifecycle import OPERATION_PHASES, set_phase
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import Operation, OperationStatus, Store, StoreOperation
from storefleet.webhooks import events as webhook_events


class OperationOutcomes:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def end(self, op: StoreOperation, status: OperationStatus) -> None:
        op.status = status.value
        op.finished_at = utcnow()
        if op.started_at:
            op.duration_seconds = (op.finished_at - op.started_at).total_seconds()
        shutil.rmtree(workdir(self.runtime.settings, op.id), ignore_errors=True)

    def fail(
        self, session: Session, store: Store, op: StoreOperation, reason: str, *,
        step: str | None, kind: str,
    ) -> None:  # fmt: skip
        kind_ = Operation(op.kind)
        self.end(op, OperationStatus.failed)
        op.failure_reason = reason
        op.failed_step = step
        clear_operation(store)
        backups.fail_for_operation(session, op.id, reason)
        phase = OPERATION_PHASES[kind_].failed
        if kind_ is Operation.restore and step == "fetch":
            phase = None  # the backup was refused before anything of the store changed
        if phase is not None:
            store.failure_reason = reason
            set_phase(session, store, phase, f"Failed: {reason}", "error")
        else:
            repository.add_event(
                session, store.id, "operation", f"{op.kind} failed: {reason}", "error"
            )
        if kind_ in (Operation.upgrade, Operation.push):
            self._roll_back(session, store, op, reason)
        self.after_operation(session, store, op)

    def _roll_back(self, session: Session, store: Store, op: StoreOperation, reason: str) -> None:
        """A failed upgrade or push puts the store back as its backup found it."""
        backup = (op.result or {}).get("backup")
        if not isinstance(backup, dict) or op.failed_step in step_lists.UPGRADE_BACKUP_STEPS:
            repository.add_event(
                session, store.id, "operation",
                f"The {op.kind} failed before it changed the store; nothing to restore",
            )  # fmt: skip
            return
        params = backups.restore_params(backup)
        repository.add_operation(
            session, store, Operation.restore, params=params,
            requested_by=f"rollback of {op.kind} operation {op.id}",
        )  # fmt: skip
        repository.add_event(
            session, store.id, "operation",
            f"Restoring the store from backup {backup.get('id')} (WordPress "
            f"{backup.get('wordpress_version')}, WooCommerce {backup.get('woocommerce_version')}) "
            f"after the failed {op.kind}",
            "warning",
        )  # fmt: skip

    def succeed(self, session: Session, store: Store, op: StoreOperation) -> None:
        """The operation succeeded: the store's phase and facts move on."""
        kind = Operation(op.kind)
        self.end(op, OperationStatus.succeeded)
        phase = OPERATION_PHASES[kind].done
        message = self._done_message(store, op)
        if kind in (Operation.provision, Operation.adopt):
            store.ready_at = utcnow()
            store.admin_password_enc = None
            store.health_failures = 0
        elif kind is Operation.delete:
            store.deleted_at = utcnow()
            store.live_name = None
            store.port = None
            store.admin_password_enc = None
        elif kind in (Operation.restore, Operation.resume, Operation.upgrade, Operation.refresh):
            store.failure_reason = None
            store.health_failures = 0
        if phase is not None and (
            store.phase != phase or kind in (Operation.restore, Operation.refresh)
        ):
            set_phase(session, store, phase, message)
        else:
            repository.add_event(session, store.id, "operation", message)
        self.after_operation(session, store, op)

    def cancel(self, session: Session, store: Store, op: StoreOperation, why: str) -> None:
        op.status = OperationStatus.cancelled.value
        op.finished_at = utcnow()
        op.failure_reason = f"cancelled: {why}"
        backups.fail_for_operation(session, op.id, op.failure_reason)
        repository.add_event(session, store.id, "operation", f"{op.kind} cancelled: {why}")
        self.after_operation(session, store, op)

    @staticmethod
    def _done_message(store: Store, op: StoreOperation) -> str:
        kind = Operation(op.kind)
        took = f" in {op.duration_seconds:.1f}s" if op.duration_seconds is not None else ""
        if kind is Operation.provision:
            since = seconds(utcnow() - store.created_at)
            return f"Ready at {store.url} ({since} after the request)"
        if kind is Operation.adopt:
            since = seconds(utcnow() - store.created_at)
            return f"Ready at {store.url} ({since} after the request; adopted from the warm pool)"
        if kind is Operation.delete:
            return "Deleted; the name is free again"
        if kind is Operation.backup:
            backup: dict[str, Any] = dict((op.result or {}).get("backup") or {})
            return f"Backup {backup.get('id')} taken{took}"
        if kind is Operation.restore:
            return (
                f"Restored from backup {op.params.get('backup_id')}{took} (WordPress "
                f"{store.wordpress_version}, WooCommerce {store.woocommerce_version})"
            )
        if kind is Operation.upgrade:
            order: dict[str, Any] = dict((op.result or {}).get("checkout") or {})
            return (
                f"Upgraded to WordPress {store.wordpress_version} and WooCommerce "
                f"{store.woocommerce_version}{took}; test order {order.get('order_id')} "
                "placed, confirmed and removed"
            )
        if kind is Operation.suspend:
            return f"Suspended{took}: the store answers “store unavailable”"
        if kind is Operation.resize:
            return f"Plan {store.plan} in effect{took}"
        if kind is Operation.domain:
            return f"Custom domains in effect{took}: the store answers at {store.url}"
        if kind is Operation.push:
            staging = dict(op.params.get("staging") or {})
            return (
                f"Staging copy {staging.get('name')} pushed ({op.params.get('what')}){took}; "
                f"backup {op.params.get('backup_id')} was taken first"
            )
        if kind is Operation.refresh:
            return f"Made again from a fresh backup of the live store{took}"
        return f"Resumed{took}"

    def after_operation(self, session: Session, store: Store, op: StoreOperation) -> None:
        """What else follows an operation's end (a fleet upgrade's progress, webhooks)."""
        webhook_events.operation_ended(session, store, op)
        if op.fleet_upgrade_id is not None:
            from storefleet.fleet import service as fleet

            fleet.note_store_done(session, self.runtime, op)


def started(kind: Operation, by: str) -> str:
    verbs = {
        Operation.provision: "Provisioning started",
        Operation.delete: "Deleting the store",
        Operation.backup: "Backup started",
        Operation.restore: "Restore started",
        Operation.upgrade: "Upgrade started",
        Operation.suspend: "Suspending the store",
        Operation.resume: "Resuming the store",
        Operation.resize: "Applying the store's plan",
        Operation.domain: "Applying the store's custom domains",
        Operation.push: "Pushing a staging copy",
        Operation.refresh: "Refreshing the staging copy from live",
        Operation.adopt: "Adopting a standby store of the warm pool",
    }
    return f"{verbs[kind]} ({by})"


def seconds(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds():.1f}s"


def clear_operation(store: Store) -> None:
    """The store has no operation in flight any more."""
    store.current_step = None
    store.operation = None
    store.operation_id = None
    store.operation_deadline_at = None
