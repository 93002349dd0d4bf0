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
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from storefleet.backups import service as backups
from storefleet.db import utcnow
from storefleet.drivers.base import (
    OperationInfo,
    Step,
    StepError,
    StepOutcome,
    StopRequested,
    StoreDriver,
    StoreSnapshot,
    TransientError,
)
from storefleet.operations import step_lists
from storefleet.operations.context import OperationContext, snapshot_of, workdir
from storefleet.operations.lease import Lease
from storefleet.operations.lifecycle import OPERATION_PHASES, set_phase
from storefleet.operations.outcomes import OperationOutcomes, clear_operation, seconds, started
from storefleet.runtime import Runtime
from storefleet.stores import repository
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

#: The operations that make a new store (and leave it ready).
_MAKING = (Operation.provision, Operation.adopt)


class _End(Enum):
    done = "done"
    failed = "failed"
    idle = "idle"  # nothing to do
    interrupted = "interrupted"  # desired state changed: look again
    lost = "lost"  # lease lost: another worker owns the store now


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"


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
        self.outcomes = OperationOutcomes(runtime)

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
                    self.outcomes.cancel(session, store, other, "the store is being deleted")
            return delete
        if store.phase in (Phase.pending, Phase.provisioning):
            # A new store is made by provisioning it, or by adopting a standby.
            provision = next((o for o in active if o.kind in _MAKING), None)
            if provision is None:
                provision = repository.add_operation(
                    session, store, Operation.provision, requested_by="reconciler"
                )
            return provision
        for candidate in sorted(active, key=lambda o: (o.status != OperationStatus.running, o.id)):
            kind = Operation(candidate.kind)
            if kind in (*_MAKING, Operation.delete):
                continue  # leftovers of a lifecycle operation the phase has moved past
            allowed = OPERATION_PHASES[kind].allowed_from
            if candidate.status == OperationStatus.pending and store.phase not in allowed:
                self.outcomes.cancel(session, store, candidate, f"the store is {store.phase}")
                continue
            return candidate
        return None

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
                    set_phase(session, store, phase, started(kind, op.requested_by))
                elif phase is None:
                    repository.add_event(
                        session, store.id, "operation", started(kind, op.requested_by)
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

    def _check_scratch(
        self, session: Session, store: Store, op: StoreOperation, steps: Sequence[Step]
    ) -> None:
        """A worker that continues another's operation may not have its
        scratch directory (another machine, a new pod): run the steps that
        wrote it again, when a step that reads it is still to come."""
        path = workdir(self.runtime.settings, op.id)
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
        started_ = self._start_step(step, running, snapshot)
        if not isinstance(started_, OperationContext.Start):
            return started_
        s = self.runtime.settings
        op_left = (
            (started_.deadline_at - utcnow()).total_seconds()
            if started_.deadline_at
            else s.step_deadline_seconds
        )
        deadline = time.monotonic() + max(1.0, min(s.step_deadline_seconds, op_left))
        scratch = workdir(s, running.id)
        ctx = OperationContext(
            self.runtime, started_.snapshot, lease, started_.info, deadline, scratch
        )
        try:
            outcome = self._call(step, ctx, running.id)
        except StopRequested:
            with self._locked(snapshot.id) as (session, _store):
                row = self._step_row(session, running.id, step.name)
                row.status = StepStatus.pending.value
                row.message = "stopped: the store is being deleted"
            return (_End.lost if lease.lost.is_set() else _End.interrupted), ctx.store
        except StepError as exc:
            self._step_failed(step, running, snapshot.id, exc)
            return _End.failed, ctx.store
        except BaseException as exc:
            # Not a failure we know how to judge: record it for the person who
            # looks, and let it propagate. The step stays "running"; it is tried
            # again (up to max_step_attempts) when the reconciler re-enqueues.
            with self._locked(snapshot.id) as (session, _store):
                row = self._step_row(session, running.id, step.name)
                row.message = f"interrupted: {type(exc).__name__}: {exc}"
            raise
        return None, self._step_done(step, running, snapshot.id, outcome or StepOutcome())

    def _start_step(
        self, step: Step, running: _Running, snapshot: StoreSnapshot
    ) -> OperationContext.Start | tuple[_End | None, StoreSnapshot]:
        """Mark the step running (another attempt); or why it does not run:
        done already, the operation ended or stopped, out of time or tries."""
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
                self.outcomes.fail(
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
                self.outcomes.fail(
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
            info = OperationInfo(op.id, op.kind, dict(op.params or {}), dict(op.result or {}))
            return OperationContext.Start(
                snapshot_of(store, with_domains=True), info, op.deadline_at
            )

    def _step_failed(self, step: Step, running: _Running, store_id: int, exc: StepError) -> None:
        kind = "transient" if isinstance(exc, TransientError) else "permanent"
        with self._locked(store_id) as (session, store):
            row = self._step_row(session, running.id, step.name)
            row.status = StepStatus.failed.value
            row.finished_at = utcnow()
            row.duration_seconds = _duration(row)
            row.message = str(exc)
            row.failure_kind = kind
            op = self._operation(session, running.id)
            self.outcomes.fail(
                session, store, op, f"step {step.name}: {exc}", step=step.name, kind=kind
            )

    def _step_done(
        self, step: Step, running: _Running, store_id: int, outcome: StepOutcome
    ) -> StoreSnapshot:
        with self._locked(store_id) as (session, store):
            row = self._step_row(session, running.id, step.name)
            row.status = (StepStatus.skipped if outcome.skipped else StepStatus.succeeded).value
            row.finished_at = utcnow()
            row.duration_seconds = _duration(row)
            row.message = outcome.message
            took = seconds(row.finished_at - row.started_at) if row.started_at else "?"
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
            return snapshot_of(store)

    def _call(self, step: Step, ctx: OperationContext, op_id: int) -> StepOutcome | None:
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

    def _finish(self, store_id: int, running: _Running) -> _End:
        with self._locked(store_id) as (session, store):
            op = self._operation(session, running.id)
            clear_operation(store)
            if running.kind in _MAKING and store.desired != Desired.present:
                return _End.interrupted
            self.outcomes.succeed(session, store, op)
        return _End.done

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


def _duration(row: StoreStep) -> float | None:
    if row.started_at and row.finished_at:
        return (row.finished_at - row.started_at).total_seconds()
    return None
