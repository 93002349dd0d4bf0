"""A store's lease: at most one operation in flight per store.

Acquired with one conditional UPDATE (atomic on every database), renewed by a
background thread while the operation runs, released at the end. A worker that
dies simply stops renewing; once the lease expires the reconciler hands the
store to another worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from types import TracebackType

from sqlalchemy import or_, update

from storefleet.db import Database, utcnow
from storefleet.stores.models import Store

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, db: Database, store_id: int, owner: str, seconds: float) -> None:
        self._db = db
        self.store_id = store_id
        self.owner = owner
        self.seconds = seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        now = utcnow()
        with self._db.transaction() as session:
            result = session.execute(
                update(Store)
                .where(
                    Store.id == self.store_id,
                    or_(
                        Store.lease_owner.is_(None),
                        Store.lease_expires_at.is_(None),
                        Store.lease_expires_at < now,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_expires_at=self._expiry(now),
                    updated_at=Store.updated_at,  # a lease is not a change users see
                )
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def _expiry(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.seconds)

    def renew(self) -> bool:
        with self._db.transaction() as session:
            result = session.execute(
                update(Store)
                .where(Store.id == self.store_id, Store.lease_owner == self.owner)
                .values(lease_expires_at=self._expiry(utcnow()), updated_at=Store.updated_at)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def release(self) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(Store)
                .where(Store.id == self.store_id, Store.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None, updated_at=Store.updated_at)
                .execution_options(synchronize_session=False)
            )

    def _keep_alive(self) -> None:
        interval = max(0.2, self.seconds / 3)
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    log.warning("lost the lease on store %s", self.store_id)
                    self.lost.set()
                    return
            except Exception:
                # The thread's top level, and the one deliberate broad catch:
                # whatever a renewal raises (a database that is down for a
                # moment, a driver error, a bug), stopping here would let the
                # lease run out under a running operation. Log it with its
                # traceback and try again at the next interval (a third of the
                # lease, so two more tries remain before it expires).
                log.exception("could not renew the lease on store %s", self.store_id)

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(
            target=self._keep_alive, name=f"lease-{self.store_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
