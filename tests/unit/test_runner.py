"""The step runner's inner logic with a scripted driver (the real drivers are
exercised end to end in tests/e2e)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from storefleet.auth.models import User
from storefleet.config import Environment, Settings
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    TransientError,
)
from storefleet.migrations import upgrade
from storefleet.operations import Reconciler, StoreOperator
from storefleet.operations.lease import Lease
from storefleet.runtime import Runtime
from storefleet.stores.models import Desired, Phase, Store


class ScriptedDriver(StoreDriver):
    name = "local"

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.behaviour: dict[str, Callable[[StepContext], StepOutcome | None]] = {}
        self.seen_passwords: list[str] = []

    def _step(self, name: str, consumes: bool = False) -> Step:
        def run(ctx: StepContext) -> StepOutcome | None:
            self.calls[name] += 1
            if consumes:
                self.seen_passwords.append(ctx.admin_password())
            if name in self.behaviour:
                return self.behaviour[name](ctx)
            return StepOutcome(f"{name} ok")

        return Step(name, run, consumes_admin_password=consumes)

    def provision_steps(self) -> Sequence[Step]:
        return (self._step("one"), self._step("two", consumes=True), self._step("three"))

    def delete_steps(self) -> Sequence[Step]:
        return (self._step("undo"),)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        env=Environment.test,
        data_dir=tmp_path,
        secret_key="k" * 40,
        lease_seconds=2,
        step_deadline_seconds=2,
        requeue_after_seconds=0.01,
    )
    upgrade(settings.effective_database_url)
    rt = Runtime(settings)
    with rt.db.transaction() as s:
        s.add(User(id=1, email="o@example.com", password_hash="x", role="member"))
    return rt


def _store(runtime: Runtime, **kw: object) -> int:
    fields: dict[str, object] = {"name": "shop", "live_name": "shop", **kw}
    with runtime.db.transaction() as s:
        store = Store(
            owner_id=1, driver="local", admin_email="a@example.com",
            admin_password_enc=runtime.box.seal("the-password"), **fields,
        )  # fmt: skip
        s.add(store)
        s.flush()
        return store.id


def _get(runtime: Runtime, store_id: int) -> Store:
    with runtime.db.transaction(write=False) as s:
        store = s.get(Store, store_id)
        assert store is not None
        return store


def test_provisions_in_order_and_wipes_the_password(runtime: Runtime) -> None:
    driver = ScriptedDriver()
    store_id = _store(runtime)
    StoreOperator(runtime, driver).operate(store_id)
    store = _get(runtime, store_id)
    assert store.phase == Phase.ready
    assert store.admin_password_enc is None
    assert store.lease_owner is None
    assert driver.calls == Counter(one=1, two=1, three=1)
    assert driver.seen_passwords == ["the-password"]


def test_a_retry_skips_steps_that_succeeded(runtime: Runtime) -> None:
    driver = ScriptedDriver()

    def boom(ctx: StepContext) -> None:
        raise PermanentError("the disk is full")

    driver.behaviour["three"] = boom
    store_id = _store(runtime)
    StoreOperator(runtime, driver).operate(store_id)
    store = _get(runtime, store_id)
    assert store.phase == Phase.failed
    assert store.failure_reason == "step three: the disk is full"

    del driver.behaviour["three"]
    with runtime.db.transaction() as s:
        from storefleet.stores import service

        owner = s.get(User, 1)
        assert owner is not None
        service.retry(s, runtime, owner, store_id, client_ip="local")
    StoreOperator(runtime, driver).operate(store_id)
    assert _get(runtime, store_id).phase == Phase.ready
    assert driver.calls == Counter(one=1, two=1, three=2)


def test_transient_errors_are_retried_until_they_pass(runtime: Runtime) -> None:
    driver = ScriptedDriver()
    failures = iter([True, True, False])

    def flaky(ctx: StepContext) -> StepOutcome:
        if next(failures):
            raise TransientError("not up yet")
        return StepOutcome("up")

    driver.behaviour["one"] = flaky
    store_id = _store(runtime)
    StoreOperator(runtime, driver).operate(store_id)
    assert _get(runtime, store_id).phase == Phase.ready
    assert driver.calls["one"] == 3


def test_a_step_that_stays_transient_fails_at_its_deadline(runtime: Runtime) -> None:
    driver = ScriptedDriver()

    def never(ctx: StepContext) -> None:
        raise TransientError("still not up")

    driver.behaviour["one"] = never
    store_id = _store(runtime)
    StoreOperator(runtime, driver).operate(store_id)
    store = _get(runtime, store_id)
    assert store.phase == Phase.failed
    assert store.failure_reason == "step one: still not up"
    assert driver.calls["one"] >= 2


def test_a_held_lease_keeps_a_second_operator_out(runtime: Runtime) -> None:
    store_id = _store(runtime)
    lease = Lease(runtime.db, store_id, "someone-else", 30)
    assert lease.acquire()
    driver = ScriptedDriver()
    StoreOperator(runtime, driver).operate(store_id)
    assert driver.calls == Counter()
    assert not Lease(runtime.db, store_id, "a-third", 30).acquire()
    lease.release()
    assert Lease(runtime.db, store_id, "a-third", 30).acquire()


def test_delete_during_provisioning_stops_and_cleans_up(runtime: Runtime) -> None:
    driver = ScriptedDriver()
    store_id = _store(runtime)

    def request_delete(ctx: StepContext) -> StepOutcome:
        with runtime.db.transaction() as s:
            store = s.get(Store, store_id)
            assert store is not None
            store.desired = Desired.absent.value
            store.phase = Phase.deleting.value
        return StepOutcome("one ok")

    driver.behaviour["one"] = request_delete
    StoreOperator(runtime, driver).operate(store_id)
    store = _get(runtime, store_id)
    assert store.phase == Phase.deleted
    assert store.live_name is None
    assert driver.calls == Counter(one=1, undo=1)  # steps two and three never ran


def test_the_reconciler_requeues_unfinished_unleased_stores(runtime: Runtime) -> None:
    ready = _store(runtime, phase=Phase.ready.value)
    pending = _store(runtime, name="other", live_name="other")
    assert ready != pending
    reconciler = Reconciler(runtime, ScriptedDriver())
    assert reconciler.requeue() == [pending]
    lease = Lease(runtime.db, pending, "busy", 30)
    assert lease.acquire()
    assert reconciler.requeue() == []  # leased: a worker is on it
    assert runtime.queue.pending_count() == 1


def test_concurrent_operators_run_each_step_once(runtime: Runtime) -> None:
    driver = ScriptedDriver()
    store_id = _store(runtime)
    threads = [
        threading.Thread(target=StoreOperator(runtime, driver).operate, args=(store_id,))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _get(runtime, store_id).phase == Phase.ready
    assert driver.calls == Counter(one=1, two=1, three=1)
