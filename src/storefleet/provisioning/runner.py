"""The step runner: runs a store's provisioning or deletion as ordered,
recorded, idempotent steps under the store's lease.

Each step's status, attempt, timing and message are committed as they change,
so a worker that dies mid-way leaves a record another worker continues from:
steps that succeeded are not run again. Transient errors are retried with
exponential backoff until the step's deadline; the whole operation has a
deadline too, after which the store is ``failed`` with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from storefleet.crypto import InvalidToken
from storefleet.db import utcnow
from storefleet.drivers.base import (
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
from storefleet.provisioning.lease import Lease
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import (
    DONE_STEP,
    Desired,
    Operation,
    Phase,
    StepStatus,
    Store,
    StoreStep,
)

log = logging.getLogger(__name__)


class _End(Enum):
    done = "done"
    failed = "failed"
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


class _Context(StepContext):
    def __init__(
        self,
        operator: StoreOperator,
        store: StoreSnapshot,
        lease: Lease,
        operation: Operation,
        deadline: float,
    ) -> None:
        super().__init__(store, deadline)
        self._op = operator
        self._lease = lease
        self._operation = operation
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
        allowed = {"url", "admin_url", "port"}
        if not set(fields) <= allowed:
            raise ValueError(f"a driver may only record {sorted(allowed)}")
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
        if self._operation is Operation.provision and time.monotonic() - self._checked_at > 2:
            self._checked_at = time.monotonic()
            with self._op.runtime.db.transaction(write=False) as session:
                store = session.get(Store, self.store.id)
                self._stop = store is None or store.desired != Desired.present
        return self._stop


class StoreOperator:
    """Runs the operation a store needs, if any, holding its lease."""

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
                for _ in range(3):  # at most provision → (interrupted) → delete
                    if self._operate_once(store_id, lease) is not _End.interrupted:
                        break
        finally:
            if not lease.lost.is_set():
                lease.release()

    # -- one operation ----------------------------------------------------

    @contextmanager
    def _locked(self, store_id: int) -> Iterator[tuple[Session, Store]]:
        with self.runtime.db.transaction() as session:
            store = repository.get(session, store_id, for_update=True)
            if store is None:
                raise LookupError(f"store {store_id} does not exist")
            yield session, store
            # Step rows changed too: the store's updated_at is what live views watch.
            store.updated_at = utcnow()

    def _begin(self, store_id: int) -> tuple[Operation, StoreSnapshot] | None:
        s = self.runtime.settings
        with self._locked(store_id) as (session, store):
            if store.phase == Phase.deleted:
                return None
            if store.desired == Desired.absent:
                operation = Operation.delete
                if store.phase == Phase.failed:
                    return None  # a failed deletion waits for a retry
                if store.phase != Phase.deleting:
                    self._phase(session, store, Phase.deleting, "Deleting the store")
            elif store.phase in (Phase.pending, Phase.provisioning):
                operation = Operation.provision
                if store.phase == Phase.pending:
                    self._phase(session, store, Phase.provisioning, "Provisioning started")
            else:
                return None
            if store.operation != operation.value or store.operation_deadline_at is None:
                store.operation = operation.value
                store.operation_deadline_at = utcnow() + dt.timedelta(
                    seconds=s.operation_deadline_seconds
                )
            self._ensure_steps(session, store, operation)
            return operation, snapshot_of(store)

    def _ensure_steps(self, session: Session, store: Store, operation: Operation) -> None:
        existing = {st.name for st in repository.steps(session, store.id, operation.value)}
        for position, step in enumerate(self._steps(operation)):
            if step.name not in existing:
                session.add(
                    StoreStep(
                        store_id=store.id, operation=operation.value, position=position,
                        name=step.name, status=StepStatus.pending.value, attempt=0,
                    )
                )  # fmt: skip

    def _steps(self, operation: Operation) -> Sequence[Step]:
        if operation is Operation.provision:
            return self.driver.provision_steps()
        return self.driver.delete_steps()

    def _phase(
        self, session: Session, store: Store, phase: Phase, message: str, level: str = "info"
    ) -> None:
        store.phase = phase.value
        repository.add_event(session, store.id, "phase", message, level)

    def _operate_once(self, store_id: int, lease: Lease) -> _End:
        begun = self._begin(store_id)
        if begun is None:
            return _End.done
        operation, snapshot = begun
        log.info("store %s: %s", store_id, operation.value)
        for step in self._steps(operation):
            if lease.lost.is_set():
                return _End.lost
            end, snapshot = self._run_step(step, operation, snapshot, lease)
            if end is not None:
                return end
        return self._finish(store_id, operation)

    def _fail(self, session: Session, store: Store, reason: str) -> None:
        store.failure_reason = reason
        store.current_step = None
        store.operation_deadline_at = None
        self._phase(session, store, Phase.failed, f"Failed: {reason}", "error")

    def _run_step(
        self, step: Step, operation: Operation, snapshot: StoreSnapshot, lease: Lease
    ) -> tuple[_End | None, StoreSnapshot]:
        s = self.runtime.settings
        with self._locked(snapshot.id) as (session, store):
            if operation is Operation.provision and store.desired != Desired.present:
                return _End.interrupted, snapshot
            row = self._step_row(session, store.id, operation, step.name)
            if row.status in DONE_STEP:
                return None, snapshot_of(store)
            if store.operation_deadline_at and utcnow() > store.operation_deadline_at:
                self._fail(
                    session,
                    store,
                    f"the {operation.value} operation did not finish within "
                    f"{s.operation_deadline_seconds:.0f}s (stopped before step {step.name})",
                )
                return _End.failed, snapshot
            if row.attempt >= s.max_step_attempts:
                last = f": {row.message}" if row.message else ""
                row.status = StepStatus.failed.value
                self._fail(
                    session,
                    store,
                    f"step {step.name} did not complete after {row.attempt} attempts{last}",
                )
                return _End.failed, snapshot
            row.status = StepStatus.running.value
            row.attempt += 1
            row.started_at = utcnow()
            row.finished_at = None
            row.message = None
            store.current_step = step.name
            snapshot = snapshot_of(store)

        op_deadline_left = (
            (store.operation_deadline_at - utcnow()).total_seconds()
            if store.operation_deadline_at
            else s.step_deadline_seconds
        )
        deadline = time.monotonic() + max(1.0, min(s.step_deadline_seconds, op_deadline_left))
        ctx = _Context(self, snapshot, lease, operation, deadline)
        try:
            outcome = self._call(step, ctx, operation)
        except StopRequested:
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, store.id, operation, step.name)
                row.status = StepStatus.pending.value
                row.message = "stopped: the store is being deleted"
            return (_End.lost if lease.lost.is_set() else _End.interrupted), ctx.store
        except StepError as exc:
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, store.id, operation, step.name)
                row.status = StepStatus.failed.value
                row.finished_at = utcnow()
                row.message = str(exc)
                self._fail(session, store, f"step {step.name}: {exc}")
            return _End.failed, ctx.store
        except BaseException as exc:
            # Not a failure we know how to judge: record it for the person who
            # looks, and let it propagate. The step stays "running"; it is tried
            # again (up to max_step_attempts) when the reconciler re-enqueues.
            with self._locked(snapshot.id) as (session, store):
                row = self._step_row(session, store.id, operation, step.name)
                row.message = f"interrupted: {type(exc).__name__}: {exc}"
            raise

        outcome = outcome or StepOutcome()
        with self._locked(snapshot.id) as (session, store):
            row = self._step_row(session, store.id, operation, step.name)
            row.status = (StepStatus.skipped if outcome.skipped else StepStatus.succeeded).value
            row.finished_at = utcnow()
            row.message = outcome.message
            took = _seconds(row.finished_at - row.started_at) if row.started_at else "?"
            repository.add_event(
                session, store.id, "step",
                f"{step.name}: {'skipped' if outcome.skipped else 'done'} in {took}"
                + (f" — {outcome.message}" if outcome.message else ""),
            )  # fmt: skip
            if step.consumes_admin_password:
                store.admin_password_enc = None
            return None, snapshot_of(store)

    def _call(self, step: Step, ctx: _Context, operation: Operation) -> StepOutcome | None:
        def give_up(state: RetryCallState) -> bool:
            return time.monotonic() >= ctx.deadline or ctx.should_stop()

        def note_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0
            with self._locked(ctx.store.id) as (session, store):
                row = self._step_row(session, store.id, operation, step.name)
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

    def _step_row(
        self, session: Session, store_id: int, operation: Operation, name: str
    ) -> StoreStep:
        row = repository.step(session, store_id, operation.value, name)
        if row is None:
            raise LookupError(f"store {store_id} has no step {operation.value}/{name}")
        return row

    def _finish(self, store_id: int, operation: Operation) -> _End:
        with self._locked(store_id) as (session, store):
            store.current_step = None
            store.operation = None
            store.operation_deadline_at = None
            if operation is Operation.provision:
                if store.desired != Desired.present:
                    return _End.interrupted
                store.ready_at = utcnow()
                store.admin_password_enc = None
                took = _seconds(store.ready_at - store.created_at)
                self._phase(
                    session, store, Phase.ready, f"Ready at {store.url} ({took} after the request)"
                )
            else:
                store.deleted_at = utcnow()
                store.live_name = None
                store.port = None
                store.admin_password_enc = None
                self._phase(session, store, Phase.deleted, "Deleted; the name is free again")
        return _End.done
