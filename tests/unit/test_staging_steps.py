"""Staging copies' step lists and expiry, with a scripted driver (the real
thing runs end to end in tests/e2e/test_staging.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from storefleet.auth.models import User
from storefleet.config import Environment, Settings
from storefleet.db import utcnow
from storefleet.drivers.base import Step, StepContext, StepOutcome, StoreDriver
from storefleet.migrations import upgrade
from storefleet.operations import step_lists
from storefleet.runtime import Runtime
from storefleet.stores import repository, staging
from storefleet.stores.models import Desired, Operation, OperationStatus, Phase, Store


def _ok(ctx: StepContext) -> StepOutcome:
    return StepOutcome("ok")


class Driver(StoreDriver):
    name = "local"

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        content = (Step("content", _ok), Step("install", _ok, consumes_admin_password=True))
        return (Step("files", _ok), *(content if clone else ()), Step("server", _ok))

    def delete_steps(self) -> Sequence[Step]:
        return (Step("files", _ok),)

    def backup_steps(self) -> Sequence[Step]:
        return (Step("database", _ok), Step("files", _ok))

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("files", _ok),
            Step("database", _ok),
            Step("address", _ok),
            Step("verify", _ok),
        )

    def stage_step(self) -> Step:
        return Step("stage", _ok)

    def push_steps(self, *, files: bool, database: bool) -> Sequence[Step]:
        parts = (("files",) if files else ()) + (("database",) if database else ())
        return (*(Step(p, _ok) for p in parts), Step("address", _ok), Step("verify", _ok))


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(env=Environment.test, data_dir=tmp_path, secret_key="k" * 40)
    upgrade(settings.effective_database_url)
    rt = Runtime(settings)
    with rt.db.transaction() as s:
        s.add(User(id=1, email="o@example.com", password_hash="x", role="member"))
    return rt


def _names(runtime: Runtime, kind: Operation, params: dict[str, object]) -> list[str]:
    return [s.name for s in step_lists.steps_for(Driver(), runtime, kind, params)]


def test_a_copy_is_a_clone_of_a_backup_it_takes_of_live_then_staged(runtime: Runtime) -> None:
    live = {"id": 1, "uid": "a" * 12}
    assert _names(runtime, Operation.provision, {"live": live, "backup_id": 3}) == [
        "source-database", "source-files", "source-store", "fetch",
        "files", "content", "install", "stage", "server",
    ]  # fmt: skip
    assert _names(runtime, Operation.refresh, {"live": live, "backup_id": 4}) == [
        "source-database", "source-files", "source-store", "fetch",
        "files", "database", "address", "stage", "verify",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "parts"),
    [("files", ["files"]), ("database", ["database"]), ("both", ["files", "database"])],
)
def test_a_push_backs_live_up_first_and_pushes_what_was_asked(
    runtime: Runtime, what: str, parts: list[str]
) -> None:
    names = _names(runtime, Operation.push, {"what": what, "staging": {"uid": "b" * 12}})
    assert names == [
        "backup-database", "backup-files", "backup-store", *parts, "address", "verify",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="push"):
        _names(runtime, Operation.push, {"what": "everything"})


def test_an_expired_copy_is_deleted_and_a_live_store_never(runtime: Runtime) -> None:
    past = utcnow() - dt.timedelta(minutes=1)
    with runtime.db.transaction() as s:
        live = Store(owner_id=1, driver="local", admin_email="a@example.com", name="shop",
                     live_name="shop", phase=Phase.ready.value, expires_at=past)  # fmt: skip
        s.add(live)
        s.flush()
        copy = Store(owner_id=1, driver="local", admin_email="a@example.com", name="shop-staging",
                     live_name="shop-staging", phase=Phase.ready.value, staging_of_id=live.id,
                     expires_at=past)  # fmt: skip
        later = Store(owner_id=1, driver="local", admin_email="a@example.com", name="shop-2",
                      live_name="shop-2", phase=Phase.ready.value, staging_of_id=live.id,
                      expires_at=utcnow() + dt.timedelta(days=1))  # fmt: skip
        s.add_all([copy, later])
        s.flush()
        ids = (live.id, copy.id, later.id)
    with runtime.db.transaction() as s:
        assert staging.expire_due(s, runtime) == [ids[1]]
    with runtime.db.transaction() as s:
        gone, kept_live, kept_copy = (s.get(Store, i) for i in (ids[1], ids[0], ids[2]))
        assert gone is not None and kept_live is not None and kept_copy is not None
        assert (gone.desired, gone.phase) == (Desired.absent.value, Phase.deleting.value)
        [op] = repository.active_operations(s, gone.id)
        assert (op.kind, op.status) == (Operation.delete.value, OperationStatus.pending.value)
        assert kept_live.desired == kept_copy.desired == Desired.present.value
