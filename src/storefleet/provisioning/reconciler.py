"""The reconciler: a periodic sweep that makes sure no work is ever lost.

The queue only says "look at store X now"; a message can be lost (a Redis
flush, a worker killed after taking it). The sweep re-enqueues every store whose
work is unfinished, whose lease has expired and that was not enqueued recently,
and asks the driver to bring back stores that should be running.

The sweep loop must outlive anything a sweep raises; each good sweep is
recorded as a heartbeat that ``/readyz`` reports on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import or_, select

from storefleet import heartbeats
from storefleet.db import after_commit, utcnow
from storefleet.drivers.base import StoreDriver
from storefleet.provisioning.runner import snapshot_of
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import UNFINISHED, Phase, Store

log = logging.getLogger(__name__)

_BATCH = 500
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
        """Enqueue unfinished stores that no worker holds. Returns their ids."""
        s = self.runtime.settings
        now = utcnow()
        stale = now - dt.timedelta(seconds=s.requeue_after_seconds)
        queue = self.runtime.queue
        with self.runtime.db.transaction() as session:
            stores = session.scalars(
                select(Store)
                .where(
                    Store.phase.in_([p.value for p in UNFINISHED]),
                    or_(Store.lease_expires_at.is_(None), Store.lease_expires_at < now),
                    or_(Store.enqueued_at.is_(None), Store.enqueued_at < stale),
                )
                .order_by(Store.id)
                .limit(_BATCH)
            ).all()
            ids = [store.id for store in stores]
            for store in stores:
                store.enqueued_at = now

            def enqueue() -> None:
                for store_id in ids:
                    queue.enqueue_store(store_id)

            after_commit(session, enqueue)
        if ids:
            log.info("re-enqueued stores %s", ids)
        return ids

    def supervise(self) -> None:
        """Ask the driver to restart ready stores that are not running."""
        with self.runtime.db.transaction(write=False) as session:
            stores = session.scalars(
                select(Store).where(
                    Store.phase == Phase.ready.value,
                    Store.driver == self.driver.name,
                    # Not while a worker operates on it.
                    or_(Store.lease_expires_at.is_(None), Store.lease_expires_at < utcnow()),
                )
            ).all()
            snapshots = [snapshot_of(st) for st in stores]
        report = self.driver.supervise(snapshots)
        if report.restarted or report.failed:
            with self.runtime.db.transaction() as session:
                for store_id, message in report.restarted.items():
                    repository.add_event(session, store_id, "supervise", message)
                for store_id, message in report.failed.items():
                    repository.add_event(
                        session, store_id, "supervise", f"Could not restart: {message}", "error"
                    )

    def sweep(self) -> None:
        self.requeue()
        self.supervise()

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
