"""The worker's log reader: answers the API's questions about the logs of
stores it cannot read itself (a Kubernetes store's pod: the API has no
cluster rights; stores/logs.py). A thread of its own in each worker, beside
the reconciler, so that a question never waits behind store operations: it
looks for questions every half second (one indexed query), takes each with
an update only one worker wins, reads the logs with the driver (already
redacted) and writes the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from storefleet.drivers.base import StepError, StoreDriver
from storefleet.drivers.logs import LogQuery
from storefleet.operations.runner import snapshot_of
from storefleet.runtime import Runtime
from storefleet.stores import logs
from storefleet.stores.models import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
_CLEAN_UP_SECONDS = 60.0
_AT_ONCE = 4


class LogReader:
    def __init__(self, runtime: Runtime, driver: StoreDriver, owner: str) -> None:
        self.runtime = runtime
        self.driver = driver
        self.owner = owner
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=_AT_ONCE, thread_name_prefix="log-reader")
        self._cleaned = 0.0

    def poll(self) -> int:
        """Answer the questions waiting now; returns how many were answered."""
        with self.runtime.db.transaction(write=False) as session:
            waiting = logs.pending(session, self.driver.name)
        answered = sum(self._pool.map(lambda item: self._answer(*item), waiting))
        if time.monotonic() - self._cleaned > _CLEAN_UP_SECONDS:
            with self.runtime.db.transaction() as session:
                logs.forget_old(session)
            self._cleaned = time.monotonic()
        return answered

    def _answer(self, request_id: int, store: Store, query: LogQuery) -> int:
        with self.runtime.db.transaction() as session:
            if not logs.claim(session, request_id, self.owner):
                return 0
        try:
            result = logs.dump_page(self.driver.read_logs(snapshot_of(store), query))
        except StepError as exc:
            result = {"error": str(exc)[:500]}
        with self.runtime.db.transaction() as session:
            logs.answer(session, request_id, result)
        return 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:
                # The thread's top level, as the reconciler's: whatever a poll
                # raises (a database that is down, an API server's surprise),
                # the reader must outlive it; the asker gets a 503 meanwhile.
                log.exception("the log reader's poll failed")
                self._stop.wait(5)
            self._stop.wait(POLL_SECONDS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="log-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=False, cancel_futures=True)
