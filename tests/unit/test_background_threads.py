"""The reconciler and the lease keep-alive are threads that must outlive
whatever their work raises: if either ended, no work would be re-enqueued, or
a lease would run out under a running operation, and nobody would know."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from storefleet import heartbeats
from storefleet.auth.models import User
from storefleet.config import Environment, Settings
from storefleet.migrations import upgrade
from storefleet.operations import Reconciler
from storefleet.operations.lease import Lease
from storefleet.runtime import Runtime
from storefleet.stores.models import Store
from tests.unit.test_runner import ScriptedDriver


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        env=Environment.test,
        data_dir=tmp_path,
        secret_key="k" * 40,
        reconcile_interval_seconds=0.05,
        requeue_after_seconds=0.01,
    )
    upgrade(settings.effective_database_url)
    rt = Runtime(settings)
    with rt.db.transaction() as s:
        s.add(User(id=1, email="o@example.com", password_hash="x", role="member"))
    return rt


def _wait(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_sweep_that_raises_anything_is_followed_by_the_next(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    reconciler = Reconciler(runtime, ScriptedDriver(), owner="test-worker")
    sweeps: list[str] = []
    real_sweep = reconciler.sweep
    # Neither is a database, Redis or OS error: each used to end the thread.
    errors = [sqlite3.OperationalError("database is locked"), KeyError("a bug")]

    def sweep() -> None:
        if errors:
            sweeps.append("raised")
            raise errors.pop(0)
        sweeps.append("ran")
        real_sweep()

    reconciler.sweep = sweep  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR, logger="storefleet.operations.reconciler")
    reconciler.start()
    try:
        _wait(lambda: sweeps.count("ran") >= 2)
        assert reconciler._thread is not None and reconciler._thread.is_alive()
    finally:
        reconciler.stop()
    assert sweeps[:3] == ["raised", "raised", "ran"]
    failures = [r for r in caplog.records if "reconcile sweep failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info for r in failures), "logged with the traceback"
    assert "1 in a row" in failures[0].getMessage() and "2 in a row" in failures[1].getMessage()
    with runtime.db.transaction(write=False) as session:
        beat = session.scalar(select(heartbeats.Heartbeat))
    assert beat is not None and beat.owner == "test-worker"


def test_the_sweep_after_a_failure_still_requeues_work(runtime: Runtime) -> None:
    with runtime.db.transaction() as s:
        s.add(Store(owner_id=1, name="lost", live_name="lost", driver="local",
                    admin_email="a@example.com"))  # fmt: skip
    reconciler = Reconciler(runtime, ScriptedDriver())
    real_requeue = reconciler.requeue
    calls: list[int] = []

    def requeue() -> list[int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected")
        return real_requeue()

    reconciler.requeue = requeue  # type: ignore[method-assign]
    before = runtime.queue.pending_count()
    reconciler.start()
    try:
        _wait(lambda: runtime.queue.pending_count() > before)
    finally:
        reconciler.stop()
    assert len(calls) >= 2


def test_the_lease_keeps_renewing_after_a_renewal_raises(runtime: Runtime) -> None:
    with runtime.db.transaction() as s:
        store = Store(owner_id=1, name="leased", live_name="leased", driver="local",
                      admin_email="a@example.com")  # fmt: skip
        s.add(store)
        s.flush()
        store_id = store.id
    lease = Lease(runtime.db, store_id, "owner-1", seconds=0.6)
    assert lease.acquire()
    renewals: list[str] = []
    real_renew = lease.renew

    def renew() -> bool:
        if not renewals:
            renewals.append("raised")
            raise ValueError("not a database error")
        renewals.append("renewed")
        return real_renew()

    lease.renew = renew  # type: ignore[method-assign]
    with lease:
        _wait(lambda: renewals.count("renewed") >= 2)
        thread = lease._thread
        assert isinstance(thread, threading.Thread) and thread.is_alive()
        assert not lease.lost.is_set()
    assert renewals[0] == "raised"
