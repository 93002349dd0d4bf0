"""The step runner: runs every operation on a store — provision, delete,
backup, restore, upgrade, suspend, resume — as ordered, recorded, idempotent
steps under the store's lease.

An operation is a ``StoreOperation`` row; its steps are ``StoreStep`` rows.
Each step's status, attempt, timing and message are committed as they change,
so a worker that dies mid-way leaves a record another worker continues from:
steps that succeeded are not run again. Transient errors are retried with
exponential backoff until the step's deadline; the whole operation has a
deadline too, after which it fails with the reason.

Which operation runs next, and every phase change that operations make, are
decided here (what each operation does to the phase is
``stores.lifecycle.OPERATION_PHASES``): deletion comes first, then
provisioning, then day-2 operations in the order they were asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from storefleet.backups import repository as backups
from storefleet.crypto import InvalidToken
from storefleet.db import utcnow
from storefleet.drivers.base import (
    OperationInfo,
    PermanentError,
    Step,
    StepContext,
    StepError,
    StepOutcome,
    StopRequested,
    StoreDriver,
    StoreSnapshot,
    TransientError,
)
from storefleet.operations import step_lists
from storefleet.operations.lease import Lease
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.operations.lifecycle import OPERATION_PHASES, set_phase
from storefleet.stores.models import (
    DONE_STEP,
    Desired,
    Operation,
    OperationStatus,
    Phase,
    StepStatus,
    Store,
    StoreOperation,
    StoreStep,
)

log = logging.getLogger(__name__)


class _End(Enum):
    done = "done"
    failed = "failed"
    idle = "idle"  # nothing to do
    interrupted = "interrupted"  # desired state changed: look again
    lost = "lost"  # lease lost: another worker owns the store now


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"


def snapshot_of(store: Store) -> StoreSnapshot:
    """What a driver may know of ``store``."""
    return StoreSnapshot(
        id=store.id,
        name=store.name,
        admin_email=store.admin_email,
        uid=store.uid,
        url=store.url,
        port=store.port,
        sample_products=store.sample_products,
        wordpress_version=store.wordpress_version,
        woocommerce_version=store.woocommerce_version,
    )


def _seconds(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds():.1f}s"


#: What a step may record on the store row.
_RECORDABLE = {"url", "admin_url", "port", "wordpress_version", "woocommerce_version"}


class _Context(StepContext):
    def __init__(
        self,
        operator: StoreOperator,
        store: StoreSnapshot,
        lease: Lease,
        operation: OperationInfo,
        deadline: float,
        workdir: Path,
    ) -> None:
        super().__init__(store, deadline, operation, workdir)
        self._op = operator
        self._lease = lease
        self._checked_at = 0.0
        self._stop = False

    def admin_password(self) -> str:
        with self._op.runtime.db.transaction(write=False) as session:
            store = session.get(Store, self.store.id)
            token = store.admin_password_enc if store else None
        if token is None:
            raise PermanentError(
                "the admin password is no longer held by the platform; delete the store "
                "and create it again"
            )
        try:
            return self._op.runtime.box.open(token)
        except InvalidToken as exc:
            raise PermanentError(
                "the admin password cannot be decrypted (was STOREFLEET_SECRET_KEY changed?)"
            ) from exc

    def record(self, **fields: object) -> None:
        if not set(fields) <= _RECORDABLE:
            raise ValueError(f"a driver may only record {sorted(_RECORDABLE)}")
        try:
            with self._op.runtime.db.transaction() as session:
                store = repository.get(session, self.store.id, for_update=True)
                if store is None:
                    raise LookupError(f"store {self.store.id} does not exist")
                for key, value in fields.items():
                    setattr(store, key, value)
        except IntegrityError as exc:
            raise TransientError(
                f"could not record {sorted(fields)}: taken by another store"
            ) from exc
        known = {k: v for k, v in fields.items() if k in StoreSnapshot.__dataclass_fields__}
        self.store = dataclasses.replace(self.store, **known)  # type: ignore[arg-type]

    def event(self, message: str, level: str = "info") -> None:
        with self._op.runtime.db.transaction() as session:
            repository.add_event(session, self.store.id, "note", message, level)

    def should_stop(self) -> bool:
        if self._lease.lost.is_set():
            return True
        # Deletion preempts every other operation at its next step.
        if self.operation.kind != Operation.delete and time.monotonic() - self._checked_at > 2:
            self._checked_at = time.monotonic()
            with self._op.runtime.db.transaction(write=False) as session:
                store = session.get(Store, self.store.id)
                self._stop = store is None or store.desired != Desired.present
        return self._stop


@dataclasses.dataclass
class _Running:
    """The operation this worker is running now (ids and values only)."""

    id: int
    kind: Operation
    params: dict[str, Any]
    steps: Sequence[Step]
    snapshot: StoreSnapshot


class StoreOperator:
    """Runs the operations a store needs, if any, holding its lease."""

    def __init__(self, runtime: Runtime, driver: StoreDriver, owner: str | None = None) -> None:
        self.runtime = runtime
        self.driver = driver
        self.owner = owner or worker_id()

    # -- entry point ------------------------------------------------------

    def operate(self, store_id: int) -> None:
        # Each operation holds a lease of its own: two threads of one worker
        # (a store enqueued twice) must exclude each other too.
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        lease = Lease(self.runtime.db, store_id, owner, self.runtime.settings.lease_seconds)
        if not lease.acquire():
            log.info("store %s: another worker holds the lease", store_id)
            return
        try:
            with lease:
                # Operations one after the other (provision → interrupted →
                # delete; an upgrade → its rollback; queued backups), bounded:
                # the reconciler re-enqueues whatever is left.
                for _ in range(20):
                    if self._operate_once(store_id, lease) in (_End.idle, _End.lost):
                        break
        finally:
            if not lease.lost.is_set():
                lease.release()

    # -- choosing and starting an operation --------------------------------

    @contextmanager
    def _locked(self, store_id: int) -> Iterator[tuple[Session, Store]]:
        with self.runtime.db.transaction() as session:
            store = repository.get(session, store_id, for_update=True)
            if store is None:
                raise LookupError(f"store {store_id} does not exist")
            yield session, store
            # Step rows changed too: the store's updated_at is what live views watch.
            store.updated_at = utcnow()

    def _choose(self, session: Session, store: Store) -> StoreOperation | None:
        """The operation to run now, created when the store's desired state
        needs one that nobody asked for yet (rows from before operations)."""
        active = repository.active_operations(session, store.id)
        if store.desired == Desired.absent:
            delete = next((o for o in active if o.kind == Operation.delete), None)
            if delete is None:
                if store.phase == Phase.failed:
                    return None  # a failed deletion waits for a retry
                delete = repository.add_operation(
                    session, store, Operation.delete, requested_by="reconciler"
                )
            for other in active:
                if other is not delete:
                    self._cancel(session, store, other, "the store is being deleted")
            return delete
        if store.phase in (Phase.pending, Phase.provisioning):
            provision = next((o for o in active if o.kind == Operation.provision), None)
            if provision is None:
                provision = repository.add_operation(
                    session, store, Operation.provision, requested_by="reconciler"
                )
            return provision
        for candidate in sorted(active, key=lambda o: (o.status != OperationStatus.running, o.id)):
            kind = Operation(candidate.kind)
            if kind in (Operation.provision, Operation.delete):
                continue  # leftovers of a lifecycle operation the phase has moved past
            allowed = OPERATION_PHASES[kind].allowed_from
            if candidate.status == OperationStatus.pending and store.phase not in allowed:
                self._cancel(session, store, candidate, f"the store is {store.phase}")
                continue
            return candidate
        return None

    def _cancel(self, session: Session, store: Store, op: StoreOperation, why: str) -> None:
        op.status = OperationStatus.cancelled.value
        op.finished_at = utcnow()
        op.failure_reason = f"cancelled: {why}"
        backups.fail_for_operation(session, op.id, op.failure_reason)
        repository.add_event(session, store.id, "operation", f"{op.kind} cancelled: {why}")
        self._after_operation(session, store, op)

    def _begin(self, store_id: int) -> _Running | None:
        s = self.runtime.settings
        with self._locked(store_id) as (session, store):
            if store.phase == Phase.deleted:
                return None
            op = self._choose(session, store)
            if op is None:
                store.operation = None
                store.operation_id = None
                return None
            kind = Operation(op.kind)
            if op.status != OperationStatus.running:
                op.status = OperationStatus.running.value
                op.started_at = op.started_at or utcnow()
                op.failure_reason = None
                phase = OPERATION_PHASES[kind].running
                if phase is not None and store.phase != phase:
                    self._phase(session, store, phase, _started(kind, op.requested_by))
                elif phase is None:
                    repository.add_event(
                        session, store.id, "operation", _started(kind, op.requested_by)
                    )
            if op.deadline_at is None:
                op.deadline_at = utcnow() + dt.timedelta(seconds=s.operation_deadline_seconds)
            store.operation = kind.value
            store.operation_id = op.id
            store.operation_deadline_at = op.deadline_at
            steps = step_lists.steps_for(self.driver, self.runtime, kind, op.params or {})
            self._ensure_steps(session, store, op, steps)
            self._check_scratch(session, store, op, steps)
            return _Running(op.id, kind, dict(op.params or {}), steps, snapshot_of(store))

    def _ensure_steps(
        self, session: Session, store: Store, op: StoreOperation, steps: Sequence[Step]
    ) -> None:
        existing = {st.name for st in repository.operation_steps(session, op.id)}
        for position, step in enumerate(steps):
            if step.name not in existing:
                session.add(
                    StoreStep(
                        store_id=store.id, operation_id=op.id, operation=op.kind,
                        position=position, name=step.name, status=StepStatus.pending.value,
                        attempt=0,
                    )
                )  # fmt: skip
        session.flush()

    def workdir(self, op_id: int) -> Path:
        return self.runtime.settings.work_path / str(op_id)

    def _check_scratch(
        self, session: Session, store: Store, op: StoreOperation, steps: Sequence[Step]
    ) -> None:
        """A worker that continues another's operation may not have its
        scratch directory (another machine, a new pod): run the steps that
        wrote it again, when a step that reads it is still to come."""
        path = self.workdir(op.id)
        if path.is_dir():
            return
        path.mkdir(parents=True, mode=0o700)
        rows = {r.name: r for r in repository.operation_steps(session, op.id)}
        readers_left = any(
            st.reads_scratch and rows[st.name].status not in DONE_STEP for st in steps
        )
        done_writers = [
            st.name for st in steps if st.writes_scratch and rows[st.name].status in DONE_STEP
        ]
        if readers_left and done_writers:
            for name in done_writers:
                rows[name].status = StepStatus.pending.value
                rows[name].message = "run again: the scratch files were not on this worker"
            repository.add_event(
                session, store.id, "operation",
                f"{op.kind}: this worker does not have the operation's scratch files; "
                f"running {', '.join(done_writers)} again",
            )  # fmt: skip

    @staticmethod
    def _phase(
        session: Session, store: Store, phase: Phase, message: str, level: str = "info"
    ) -> None:
        set_phase(session, store, phase, message, level)

    # -- running it ---------------------------------------------------------

    def _operate_once(self, store_id: int, lease: Lease) -> _End:
        running = self._begin(store_id)
        if running is None:
            return _End.idle
        log.info("store %s: %s (operation %s)", store_id, running.kind.value, running.id)
        snapshot = running.snapshot
        for step in running.steps:
            if lease.lost.is_set():
                return _End.lost
            end, snapshot = self._run_step(step, running, snapshot, lease)
            if end is not None:
                return end
        return self._finish(store_id, running)

    def _run_step(
        self, step: Step, running: _Running, snapshot: StoreSnapshot, lease: Lease
    ) -> tuple[_End | None, StoreSnapshot]:
        s = self.runtime.settings
        with self._locked(snapshot.id) as (session, store):
            op = self._operation(session, running.id)
            if op.status != OperationStatus.running:
                return _End.interrupted, snapshot  # cancelled meanwhile
            if running.kind != Operation.delete and store.desired != Desired.present:
                return _End.interrupted, snapshot
            row = self._step_row(session, running.id, step.name)
            if row.status in DONE_STEP:
                return None, snapshot_of(store)
            if op.deadline_at and utcnow() > op.deadline_at:
                row.failure_kind = "deadline"
                self._fail(
                    session, store, op,
                    f"the {op.kind} operation did not finish within "
                    f"{s.operation_deadline_seconds:.0f}s (stopped before step {step.name})",
                    step=step.name, kind="deadline",
                )  # fmt: skip
                return _End.failed, snapshot
            if row.attempt >= s.max_step_attempts:
                last = f": {row.message}" if row.message else ""
                row.status = StepStatus.failed.value
                row.failure_kind = "attempts"
                self._fail(
                    session, store, op,
                    f"step {step.name} did not complete after {row.attempt} attempts{last}",
                    step=step.name, kind="attempts",
                )  # fmt: skip
                return _End.failed, snapshot
            row.status = StepStatus.running.value
            row.attempt += 1
            row.started_at = utcnow()
            row.finished_at = None
            row.message = None
            store.current_step = step.name
            snapshot = snapshot_of(store)
            info = OperationInfo(op.id, op.kind, dict(op.params or {}), dict(op.result or {}))
            deadline_at = op.deadline_at

        op_left = (
            (deadline_at - utcnow()).total_seconds() if deadline_at else s.step_deadline_seconds
        )
        deadline = time.monotonic() + max(1.0, min(s.step_deadline_seconds, op_left))
        ctx = _Context(self, snapshot, lease, info, deadline, self.workdir(running.id))
        try:
            outcome = self._call(step, ctx, running.id)
        except StopRequested:
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, running.id, step.name)
                row.status = StepStatus.pending.value
                row.message = "stopped: the store is being deleted"
            return (_End.lost if lease.lost.is_set() else _End.interrupted), ctx.store
        except StepError as exc:
            kind = "transient" if isinstance(exc, TransientError) else "permanent"
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, running.id, step.name)
                row.status = StepStatus.failed.value
                row.finished_at = utcnow()
                row.duration_seconds = _duration(row)
                row.message = str(exc)
                row.failure_kind = kind
                op = self._operation(session, running.id)
                self._fail(session, store, op, f"step {step.name}: {exc}", step=step.name,
                           kind=kind)  # fmt: skip
            return _End.failed, ctx.store
        except BaseException as exc:
            # Not a failure we know how to judge: record it for the person who
            # looks, and let it propagate. The step stays "running"; it is tried
            # again (up to max_step_attempts) when the reconciler re-enqueues.
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, running.id, step.name)
                row.message = f"interrupted: {type(exc).__name__}: {exc}"
            raise

        outcome = outcome or StepOutcome()
        with self._locked(snapshot.id) as (session, store):
            row = self._step_row(session, running.id, step.name)
            row.status = (StepStatus.skipped if outcome.skipped else StepStatus.succeeded).value
            row.finished_at = utcnow()
            row.duration_seconds = _duration(row)
            row.message = outcome.message
            took = _seconds(row.finished_at - row.started_at) if row.started_at else "?"
            repository.add_event(
                session, store.id, "step",
                f"{step.name}: {'skipped' if outcome.skipped else 'done'} in {took}"
                + (f" — {outcome.message}" if outcome.message else ""),
            )  # fmt: skip
            if outcome.facts:
                op = self._operation(session, running.id)
                op.result = {**(op.result or {}), **outcome.facts}
                backups.apply_facts(session, store, op, outcome.facts)
            if step.consumes_admin_password:
                store.admin_password_enc = None
            return None, snapshot_of(store)

    def _call(self, step: Step, ctx: _Context, op_id: int) -> StepOutcome | None:
        def give_up(state: RetryCallState) -> bool:
            return time.monotonic() >= ctx.deadline or ctx.should_stop()

        def note_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0
            with self._locked(ctx.store.id) as (session, _store):
                row = self._step_row(session, op_id, step.name)
                row.message = f"retrying in {wait:.1f}s (try {state.attempt_number}): {exc}"

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential_jitter(multiplier=0.5, max=15, jitter=0.5),
            stop=give_up,
            before_sleep=note_retry,
            reraise=True,
        )
        for try_ in retrying:
            with try_:
                if ctx.should_stop():
                    raise StopRequested
                return step.run(ctx)
        return None

    @staticmethod
    def _operation(session: Session, op_id: int) -> StoreOperation:
        op = session.get(StoreOperation, op_id)
        if op is None:
            raise LookupError(f"operation {op_id} does not exist")
        return op

    @staticmethod
    def _step_row(session: Session, op_id: int, name: str) -> StoreStep:
        row = session.scalar(
            select(StoreStep).where(StoreStep.operation_id == op_id, StoreStep.name == name)
        )
        if row is None:
            raise LookupError(f"operation {op_id} has no step {name}")
        return row

    # -- how it ends ----------------------------------------------------------

    def _end_operation(self, op: StoreOperation, status: OperationStatus) -> None:
        op.status = status.value
        op.finished_at = utcnow()
        if op.started_at:
            op.duration_seconds = (op.finished_at - op.started_at).total_seconds()
        shutil.rmtree(self.workdir(op.id), ignore_errors=True)

    def _fail(
        self, session: Session, store: Store, op: StoreOperation, reason: str, *,
        step: str | None, kind: str,
    ) -> None:  # fmt: skip
        kind_ = Operation(op.kind)
        self._end_operation(op, OperationStatus.failed)
        op.failure_reason = reason
        op.failed_step = step
        store.current_step = None
        store.operation = None
        store.operation_id = None
        store.operation_deadline_at = None
        backups.fail_for_operation(session, op.id, reason)
        phase = OPERATION_PHASES[kind_].failed
        if kind_ is Operation.restore and step == "fetch":
            phase = None  # the backup was refused before anything of the store changed
        if phase is not None:
            store.failure_reason = reason
            self._phase(session, store, phase, f"Failed: {reason}", "error")
        else:
            repository.add_event(
                session, store.id, "operation", f"{op.kind} failed: {reason}", "error"
            )
        if kind_ is Operation.upgrade:
            self._roll_back(session, store, op, reason)
        self._after_operation(session, store, op)

    def _roll_back(self, session: Session, store: Store, op: StoreOperation, reason: str) -> None:
        """A failed upgrade puts the store back as its backup found it."""
        backup = (op.result or {}).get("backup")
        if not isinstance(backup, dict) or op.failed_step in step_lists.UPGRADE_BACKUP_STEPS:
            repository.add_event(
                session, store.id, "operation",
                "The upgrade failed before it changed the store; nothing to restore",
            )  # fmt: skip
            return
        params = backups.restore_params(backup)
        repository.add_operation(
            session, store, Operation.restore, params=params,
            requested_by=f"rollback of upgrade operation {op.id}",
        )  # fmt: skip
        repository.add_event(
            session, store.id, "operation",
            f"Restoring the store from backup {backup.get('id')} (WordPress "
            f"{backup.get('wordpress_version')}, WooCommerce {backup.get('woocommerce_version')}) "
            f"after the failed upgrade",
            "warning",
        )  # fmt: skip

    def _finish(self, store_id: int, running: _Running) -> _End:
        with self._locked(store_id) as (session, store):
            op = self._operation(session, running.id)
            store.current_step = None
            store.operation = None
            store.operation_id = None
            store.operation_deadline_at = None
            if running.kind is Operation.provision and store.desired != Desired.present:
                return _End.interrupted
            self._end_operation(op, OperationStatus.succeeded)
            phase = OPERATION_PHASES[running.kind].done
            message = self._done_message(store, op)
            if running.kind is Operation.provision:
                store.ready_at = utcnow()
                store.admin_password_enc = None
                store.health_failures = 0
            elif running.kind is Operation.delete:
                store.deleted_at = utcnow()
                store.live_name = None
                store.port = None
                store.admin_password_enc = None
            elif running.kind in (Operation.restore, Operation.resume, Operation.upgrade):
                store.failure_reason = None
                store.health_failures = 0
            if phase is not None and (store.phase != phase or running.kind is Operation.restore):
                self._phase(session, store, phase, message)
            else:
                repository.add_event(session, store.id, "operation", message)
            self._after_operation(session, store, op)
        return _End.done

    def _done_message(self, store: Store, op: StoreOperation) -> str:
        kind = Operation(op.kind)
        took = f" in {op.duration_seconds:.1f}s" if op.duration_seconds is not None else ""
        if kind is Operation.provision:
            since = _seconds(utcnow() - store.created_at)
            return f"Ready at {store.url} ({since} after the request)"
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
        return f"Resumed{took}"

    def _after_operation(self, session: Session, store: Store, op: StoreOperation) -> None:
        """What else follows an operation's end (a fleet upgrade's progress)."""
        if op.fleet_upgrade_id is not None:
            from storefleet.fleet import service as fleet

            fleet.note_store_done(session, self.runtime, op)


def _started(kind: Operation, by: str) -> str:
    verbs = {
        Operation.provision: "Provisioning started",
        Operation.delete: "Deleting the store",
        Operation.backup: "Backup started",
        Operation.restore: "Restore started",
        Operation.upgrade: "Upgrade started",
        Operation.suspend: "Suspending the store",
        Operation.resume: "Resuming the store",
    }
    return f"{verbs[kind]} ({by})"


def _duration(row: StoreStep) -> float | None:
    if row.started_at and row.finished_at:
        return (row.finished_at - row.started_at).total_seconds()
    return None
