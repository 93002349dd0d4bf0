"""The reconciler: a periodic sweep that makes sure no work is ever lost, and
that stores stay as they should be after they are ready.

The queue only says "look at store X now"; a message can be lost (a Redis
flush, a worker killed after taking it). Each sweep:

- re-enqueues every store with work to do (an unfinished phase or an
  operation waiting or running) whose lease has expired and that was not
  enqueued recently;
- asks the driver to bring back stores that should be running (and keeps
  suspended stores' "unavailable" page up);
- checks the health of running stores with the same HTTP check as verify:
  ``health_failures_before_degraded`` failures in a row make a store
  ``degraded`` with the reason, and a passing check makes it ``ready`` again;
- asks for the backups the schedule says are due, and expires backups past
  their retention;
- looks for custom domains' ownership proofs, renews their certificates
  before they expire, and moves a store off a domain it can no longer serve
  (``domains.sweep``).

The sweep loop must outlive anything a sweep raises; each good sweep is
recorded as a heartbeat that ``/readyz`` and ``/metrics`` report on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from storefleet import heartbeats
from storefleet.backups import repository as backups
from storefleet.backups.models import BackupStatus
from storefleet.backups.storage import StorageError, open_storage
from storefleet.db import after_commit, utcnow
from storefleet.domains import sweep as domains
from storefleet.drivers.base import StepError, StoreDriver, StoreSnapshot
from storefleet.operations.lifecycle import set_phase
from storefleet.operations.runner import snapshot_of
from storefleet.runtime import Runtime
from storefleet.stores import day2 as store_requests
from storefleet.stores import pool, repository, staging
from storefleet.stores.models import (
    ACTIVE_OPERATION,
    RUNNING,
    UNFINISHED,
    Desired,
    Operation,
    Phase,
    Store,
    StoreOperation,
)
from storefleet.stores.service import request_work
from storefleet.webhooks import delivery as webhook_delivery

log = logging.getLogger(__name__)

_BATCH = 500
_PROBES_AT_ONCE = 4
#: Longest wait between sweeps after failures in a row (or the interval, if longer).
_MAX_BACKOFF_SECONDS = 60.0


class Reconciler:
    def __init__(self, runtime: Runtime, driver: StoreDriver, owner: str = "reconciler") -> None:
        self.runtime = runtime
        self.driver = driver
        self.owner = owner
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def requeue(self) -> list[int]:
        """Enqueue stores with work to do that no worker holds. Returns their ids."""
        s = self.runtime.settings
        now = utcnow()
        stale = now - dt.timedelta(seconds=s.requeue_after_seconds)
        queue = self.runtime.queue
        has_work = exists().where(
            StoreOperation.store_id == Store.id,
            StoreOperation.status.in_([st.value for st in ACTIVE_OPERATION]),
        )
        with self.runtime.db.transaction() as session:
            rows = session.scalars(
                select(Store)
                .where(
                    or_(Store.phase.in_([p.value for p in UNFINISHED]), has_work),
                    Store.phase != Phase.deleted.value,
                    or_(Store.lease_expires_at.is_(None), Store.lease_expires_at < now),
                    or_(Store.enqueued_at.is_(None), Store.enqueued_at < stale),
                )
                .order_by(Store.id)
                .limit(_BATCH)
            ).all()
            # A failed store waits for a person, unless work was asked of it.
            ids = [
                st.id for st in rows
                if st.phase != Phase.failed or repository.active_operations(session, st.id)
            ]  # fmt: skip
            for store in rows:
                if store.id in ids:
                    store.enqueued_at = now

            def enqueue() -> None:
                for store_id in ids:
                    queue.enqueue_store(store_id)

            after_commit(session, enqueue)
        if ids:
            log.info("re-enqueued stores %s", ids)
        return ids

    def _unleased(self, phases: tuple[Phase, ...]) -> list[StoreSnapshot]:
        with self.runtime.db.transaction(write=False) as session:
            rows = session.scalars(
                select(Store).where(
                    Store.phase.in_([p.value for p in phases]),
                    Store.driver == self.driver.name,
                    # Not while a worker operates on it.
                    or_(Store.lease_expires_at.is_(None), Store.lease_expires_at < utcnow()),
                )
            ).all()
            return [snapshot_of(st) for st in rows]

    def supervise(self) -> None:
        """Ask the driver to restart running stores that are not running, and
        to keep suspended stores' "unavailable" page up."""
        report = self.driver.supervise(self._unleased(RUNNING))
        suspended = self.driver.supervise_suspended(self._unleased((Phase.suspended,)))
        restarted = {**report.restarted, **suspended.restarted}
        failed = {**report.failed, **suspended.failed}
        if report.reconfigure:
            self._reconfigure(report.reconfigure)
        if restarted or failed:
            with self.runtime.db.transaction() as session:
                for store_id, message in restarted.items():
                    repository.add_event(session, store_id, "supervise", message, "warning")
                for store_id, message in failed.items():
                    repository.add_event(
                        session, store_id, "supervise", f"Could not restart: {message}", "error"
                    )

    def _reconfigure(self, stores: dict[int, str]) -> None:
        """A resize to their own plan for stores whose serving must be set up
        again (unless something else is in flight: the next sweep asks again)."""
        with self.runtime.db.transaction() as session:
            for store_id, why in stores.items():
                store = repository.get(session, store_id, for_update=True)
                if store is None or repository.active_operations(session, store_id):
                    continue
                repository.add_operation(
                    session, store, Operation.resize, requested_by="reconciler",
                    params={"plan": store.plan},
                )  # fmt: skip
                repository.add_event(session, store_id, "supervise", why)
                request_work(session, self.runtime, store)

    def check_health(self) -> dict[int, str | None]:
        """Probe running stores whose check is due; returns {store id: the
        failure, or None when it passed}."""
        s = self.runtime.settings
        due = utcnow() - dt.timedelta(seconds=s.health_interval_seconds)
        with self.runtime.db.transaction(write=False) as session:
            rows = session.scalars(
                select(Store).where(
                    Store.phase.in_([p.value for p in RUNNING]),
                    Store.driver == self.driver.name,
                    or_(Store.lease_expires_at.is_(None), Store.lease_expires_at < utcnow()),
                    or_(Store.health_checked_at.is_(None), Store.health_checked_at < due),
                )
            ).all()
            snapshots = [snapshot_of(st) for st in rows]
        if not snapshots:
            return {}

        def probe(store: StoreSnapshot) -> tuple[int, str | None]:
            try:
                self.driver.probe(store, timeout=s.health_timeout_seconds)
            except StepError as exc:
                return store.id, str(exc)
            return store.id, None

        with ThreadPoolExecutor(max_workers=_PROBES_AT_ONCE) as pool:
            results = dict(pool.map(probe, snapshots))
        with self.runtime.db.transaction() as session:
            for store_id, failure in results.items():
                store = repository.get(session, store_id, for_update=True)
                if (
                    store is None
                    or store.phase not in RUNNING
                    or (store.lease_expires_at is not None and store.lease_expires_at > utcnow())
                ):
                    continue  # an operation began meanwhile: its own checks decide
                self._record_health(session, store, failure)
        return results

    def _record_health(self, session: Session, store: Store, failure: str | None) -> None:
        s = self.runtime.settings
        store.health_checked_at = utcnow()
        if failure is None:
            store.health_failures = 0
            if store.phase == Phase.degraded:
                store.failure_reason = None
                set_phase(session, store, Phase.ready, "Healthy again: the storefront answers")
            return
        store.health_failures += 1
        n = store.health_failures
        if store.phase == Phase.ready and n >= s.health_failures_before_degraded:
            store.failure_reason = failure
            set_phase(
                session, store, Phase.degraded,
                f"Degraded: {n} health checks in a row failed: {failure}", "warning",
            )  # fmt: skip
        elif store.phase == Phase.degraded and store.failure_reason != failure:
            store.failure_reason = failure
            repository.add_event(
                session, store.id, "health", f"Still failing: {failure}", "warning"
            )
        elif store.phase == Phase.ready:
            repository.add_event(
                session, store.id, "health", f"Health check {n} failed: {failure}", "warning"
            )

    def schedule_backups(self) -> list[int]:
        """Ask for the backups that are due; returns the stores'."""
        s = self.runtime.settings
        now = utcnow()
        asked: list[int] = []
        with self.runtime.db.transaction() as session:
            rows = session.scalars(
                select(Store).where(
                    Store.phase.in_([p.value for p in RUNNING]),
                    Store.desired == Desired.present.value,
                    Store.standby.is_(False),
                )
            ).all()
            last = backups.last_attempts(session, [st.id for st in rows])
            for store in rows:
                hours = (
                    store.backup_schedule_hours
                    if store.backup_schedule_hours is not None
                    else s.backup_schedule_hours
                )
                if hours <= 0:
                    continue
                since = last.get(store.id) or store.ready_at or store.created_at
                if now - since < dt.timedelta(hours=hours):
                    continue
                if repository.active_operations(session, store.id):
                    continue  # after what is in flight
                store_requests.schedule_backup(session, self.runtime, store)
                asked.append(store.id)
        if asked:
            log.info("scheduled backups of stores %s", asked)
        return asked

    def expire_backups(self) -> int:
        """Delete the objects of backups past their retention (the rows stay,
        marked expired)."""
        s = self.runtime.settings
        with self.runtime.db.transaction(write=False) as session:
            due = [
                (b.id, b.target, b.location)
                for b in backups.expired(session, utcnow(), s.backup_retention_count)
            ]
        done = 0
        for backup_id, target, location in due:
            try:
                if location:
                    open_storage(s, target).delete(location)
            except StorageError as exc:
                log.warning("could not expire backup %s: %s", backup_id, exc)
                continue
            with self.runtime.db.transaction() as session:
                backup = backups.get(session, backup_id)
                if backup is not None:
                    backup.status = BackupStatus.expired.value
                    backup.expired_at = utcnow()
                    done += 1
        return done

    def expire_staging(self) -> list[int]:
        """Delete staging copies whose expiry has passed."""
        with self.runtime.db.transaction() as session:
            expired = staging.expire_due(session, self.runtime)
        if expired:
            log.info("staging copies %s expired: deleting them", expired)
        return expired

    def refill_pool(self) -> dict[str, list[int]]:
        """Keep the warm pool at its size (none where the driver cannot adopt)."""
        size = self.runtime.settings.warm_pool_size if self.driver.can_adopt else 0
        return pool.refill(self.runtime, size)

    def sweep(self) -> None:
        self.requeue()
        self.refill_pool()
        self.supervise()
        self.check_health()
        self.schedule_backups()
        self.expire_backups()
        domains.sweep(self.runtime)
        self.expire_staging()
        webhook_delivery.wake_if_due(self.runtime)

    def _loop(self) -> None:
        interval = self.runtime.settings.reconcile_interval_seconds
        failures = 0
        while not self._stop.is_set():
            wait = interval
            try:
                self.sweep()
                heartbeats.beat(self.runtime.db, heartbeats.RECONCILER, self.owner)
                failures = 0
            except Exception:
                # The thread's top level, and the one deliberate broad catch: a
                # sweep may raise anything (a locked SQLite queue, a psutil or
                # Kubernetes error, a database that is down, a bug), and if this
                # thread ended, nothing would re-enqueue lost work again. Log
                # it with its traceback, back off, and sweep again; /readyz
                # shows the missing heartbeats meanwhile.
                failures += 1
                wait = min(interval * 2**failures, max(interval, _MAX_BACKOFF_SECONDS))
                log.exception(
                    "reconcile sweep failed (%d in a row); next sweep in %.1fs", failures, wait
                )
            self._stop.wait(wait)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
