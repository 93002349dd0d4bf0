"""Day-2 logic on its own: the backup object's encryption, telling a store's
files from release files, fleet waves, the lifecycle's edges, and the runner's
day-2 rules with a scripted driver."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from storefleet.auth.models import User
from storefleet.backups import archive
from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.checksums import file_sha256
from storefleet.config import Environment, Settings
from storefleet.drivers.base import PermanentError, Step, StepContext, StepOutcome, StoreDriver
from storefleet.drivers.local import sitefiles
from storefleet.fleet.service import plan_waves
from storefleet.migrations import upgrade
from storefleet.operations import StoreOperator
from storefleet.operations.lifecycle import IllegalTransition, set_phase
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import Operation, OperationStatus, Phase, Store, StoreOperation
from tests.conftest import not_here

KEY = archive.derive_key("k" * 40)


def _encrypt(data: bytes) -> bytes:
    out = io.BytesIO()
    archive.encrypt(io.BytesIO(data), out, KEY)
    return out.getvalue()


def _decrypt(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    archive.decrypt(io.BytesIO(data), out, key)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, archive.CHUNK - 1, archive.CHUNK, 2 * archive.CHUNK + 5])
def test_encryption_round_trips(size: int) -> None:
    data = os.urandom(size)
    sealed = _encrypt(data)
    assert sealed[:4] == b"SFB1"
    # No plaintext run shows through (checked where a chance match of random
    # bytes is negligible: a 1-byte plaintext turns up in ~1 in 5 outputs).
    assert size < 16 or data[:64] not in sealed
    assert _decrypt(sealed) == data


def test_a_changed_cut_or_foreign_object_is_refused() -> None:
    sealed = _encrypt(os.urandom(2 * archive.CHUNK + 10))
    flipped = bytearray(sealed)
    flipped[archive.CHUNK] ^= 1
    with pytest.raises(archive.BackupError, match="does not authenticate"):
        _decrypt(bytes(flipped))
    # Cut after a whole chunk: without the last chunk's flag it cannot end there.
    first = 28 + 4 + archive.CHUNK + 16
    with pytest.raises(archive.BackupError, match="cut short"):
        _decrypt(sealed[:first])
    with pytest.raises(archive.BackupError, match="another key"):
        _decrypt(sealed, archive.derive_key("other" * 10))
    with pytest.raises(archive.BackupError, match="after its last chunk"):
        _decrypt(_encrypt(b"x") + b"more")


def test_pack_and_unpack_check_each_part(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / archive.DATABASE).write_bytes(b"db" * 1000)
    (work / archive.FILES).write_bytes(b"files" * 1000)
    out = io.BytesIO()
    packed = archive.pack(work, {"store": {"uid": "abc"}}, out, KEY)
    assert packed.manifest["parts"][archive.DATABASE]["size"] == 2000
    target = tmp_path / "backup.sfb"
    target.write_bytes(out.getvalue())
    assert file_sha256(target) == packed.sha256
    back = tmp_path / "back"
    back.mkdir()
    manifest = archive.unpack(target, back, KEY)
    assert manifest["store"] == {"uid": "abc"}
    assert (back / archive.FILES).read_bytes() == b"files" * 1000


def _release(root: Path) -> sitefiles.Releases:
    wp = root / "wordpress"
    (wp / "wp-content" / "themes" / "t").mkdir(parents=True)
    (wp / "wp-content" / "themes" / "t" / "style.css").write_text("release theme")
    wc = root / "woocommerce"
    wc.mkdir()
    (wc / "woocommerce.php").write_text("release plugin")
    return sitefiles.Releases(wp, wc)


def test_only_the_stores_own_files_are_kept_and_release_files_never_written(
    tmp_path: Path,
) -> None:
    rel = _release(tmp_path / "release")
    content = tmp_path / "site" / "wp-content"
    (content / "themes" / "t").mkdir(parents=True)
    os.link(rel.wordpress / "wp-content/themes/t/style.css", content / "themes/t/style.css")
    (content / "plugins" / "woocommerce").mkdir(parents=True)
    os.link(rel.woocommerce / "woocommerce.php", content / "plugins/woocommerce/woocommerce.php")
    (content / "uploads").mkdir()
    (content / "uploads" / "photo.jpg").write_bytes(b"jpeg")
    os.symlink("/etc/passwd", content / "uploads" / "sneaky")
    names = {str(r) for r, _ in sitefiles.own_files(content, rel)}
    assert "uploads/photo.jpg" in names and "uploads/sneaky" in names
    assert "themes/t/style.css" not in names
    assert "plugins/woocommerce/woocommerce.php" not in names

    tar = tmp_path / "files.tar.gz"
    assert sitefiles.archive(content, rel, tar) == {"files": 1, "bytes": 4}
    # A restore over a fresh tree whose release file sits where the store
    # had its own: replaced, and the release file itself is untouched.
    fresh = tmp_path / "fresh" / "wp-content"
    (fresh / "uploads").mkdir(parents=True)
    os.link(rel.woocommerce / "woocommerce.php", fresh / "uploads" / "photo.jpg")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert sitefiles.overlay(fresh, tar, scratch) == {"files": 1, "skipped": 1}
    assert (fresh / "uploads" / "photo.jpg").read_bytes() == b"jpeg"
    assert (rel.woocommerce / "woocommerce.php").read_text() == "release plugin"
    assert not (fresh / "uploads" / "sneaky").exists()  # "data" filter: no escaping links

    carried = tmp_path / "new" / "wp-content"
    carried.mkdir(parents=True)
    assert sitefiles.carry_over(content, rel, carried)["files"] == 2  # the photo and the link
    assert os.readlink(carried / "uploads" / "sneaky") == "/etc/passwd"  # kept as a link


def test_release_copies_across_filesystems_stay_release_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        not_here("gives files to another uid (root only)")
    """Where release files cannot be linked (the release cache on another
    filesystem, e.g. a tmpfs /tmp), the site gets copies: they stay root's
    and count as release files, so backups leave them out and an upgrade
    does not carry the old release's copies over the new release."""
    import errno

    from storefleet.drivers.local.site import build_site

    rel = _release(tmp_path / "release")
    (rel.wordpress / "index.php").write_text("<?php // core")
    (rel.wordpress / "wp-content" / "plugins").mkdir()

    def cross_device(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    site = tmp_path / "site"
    build_site(rel.wordpress, rel.woocommerce, site)
    content = site / "wp-content"
    (content / "uploads" / "photo.jpg").write_bytes(b"jpeg")
    copy = content / "plugins" / "woocommerce" / "woocommerce.php"
    assert copy.read_text() == "release plugin" and copy.stat().st_nlink == 1

    store = (54321, 54321)
    sitefiles.own_tree(content, store, rel)
    assert (copy.stat().st_uid, copy.stat().st_mode & 0o777) == (0, 0o644)
    assert (content / "uploads" / "photo.jpg").stat().st_uid == store[0]
    assert [str(r) for r, st in sitefiles.own_files(content, rel) if not os.path.isdir(
        content / r)] == ["uploads/photo.jpg"]  # fmt: skip

    # An upgrade's new tree holds the new release's file, not the old copy.
    newer = _release(tmp_path / "newer")
    (newer.wordpress / "wp-content" / "plugins").mkdir()
    (newer.woocommerce / "woocommerce.php").write_text("newer plugin")
    fresh = tmp_path / "new" / "wp-content"
    build_site(newer.wordpress, newer.woocommerce, fresh.parent)
    assert sitefiles.carry_over(content, rel, fresh)["files"] == 1
    assert (fresh / "plugins" / "woocommerce" / "woocommerce.php").read_text() == "newer plugin"

    # A restore whose scratch directory is on another filesystem: the
    # store's files are copied into place where they cannot be moved.
    tar = tmp_path / "files.tar.gz"
    assert sitefiles.archive(content, rel, tar)["files"] == 1
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    replace = os.replace

    def no_move_from_scratch(src: str | Path, dst: str | Path) -> None:
        if str(src).startswith(str(scratch)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", no_move_from_scratch)
    (fresh / "uploads" / "photo.jpg").unlink()
    assert sitefiles.overlay(fresh, tar, scratch)["files"] == 1
    assert (fresh / "uploads" / "photo.jpg").read_bytes() == b"jpeg"


@pytest.mark.parametrize(
    ("spec", "total", "sizes"),
    [
        (["1", "25%", "rest"], 3, [1, 1, 1]),
        (["1", "25%", "rest"], 20, [1, 5, 14]),
        (["1", "25%", "rest"], 1, [1]),
        (["1", "25%", "rest"], 0, []),
        (["2"], 5, [5]),
        (["50%", "50%"], 3, [2, 1]),
    ],
)
def test_waves(spec: list[str], total: int, sizes: list[int]) -> None:
    assert plan_waves(spec, total) == sizes


# -- the runner with a scripted driver -----------------------------------------


class Day2Driver(StoreDriver):
    name = "local"

    def __init__(self) -> None:
        self.fail: set[str] = set()
        self.ran: list[str] = []

    def _step(self, name: str) -> Step:
        def run(ctx: StepContext) -> StepOutcome:
            self.ran.append(f"{ctx.operation.kind}/{name}")
            if name in self.fail:
                raise PermanentError(f"{name} broke")
            if name == "files" and ctx.operation.kind == "upgrade":
                ctx.record(wordpress_version=ctx.operation.params["wordpress"])
            (ctx.workdir / f"{name}.out").write_text("x")
            return StepOutcome(f"{name} ok")

        return Step(name, run)

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        return (self._step("install"),)

    def delete_steps(self) -> Sequence[Step]:
        return (self._step("remove"),)

    def backup_steps(self) -> Sequence[Step]:
        return (self._step("database"), self._step("files"))

    def restore_steps(self) -> Sequence[Step]:
        return (self._step("restore-files"),)

    def upgrade_steps(self) -> Sequence[Step]:
        return (self._step("files"), self._step("upgrade"))

    def checkout_product(self, ctx: StepContext) -> int:
        raise PermanentError("no checkout here")

    def suspend_steps(self) -> Sequence[Step]:
        return (self._step("stop"),)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        env=Environment.test, data_dir=tmp_path, secret_key="k" * 40, lease_seconds=2,
        step_deadline_seconds=2, max_step_attempts=2,
    )  # fmt: skip
    upgrade(settings.effective_database_url)
    rt = Runtime(settings)
    with rt.db.transaction() as s:
        s.add(User(id=1, email="o@example.com", password_hash="x", role="member"))
    return rt


def _ready_store(runtime: Runtime) -> int:
    with runtime.db.transaction() as s:
        store = Store(
            owner_id=1, driver="local", admin_email="a@example.com", name="shop",
            live_name="shop", phase=Phase.ready.value, wordpress_version="6.9.7",
            woocommerce_version="10.9.4",
        )  # fmt: skip
        s.add(store)
        s.flush()
        return store.id


def _ask(runtime: Runtime, store_id: int, kind: Operation, **params: object) -> int:
    with runtime.db.transaction() as s:
        store = s.get(Store, store_id)
        assert store is not None
        backup = Backup(store_id=store_id, kind=BackupKind.manual.value, requested_by="t")
        s.add(backup)
        s.flush()
        op = repository.add_operation(
            s, store, kind, requested_by="t", params={"backup_id": backup.id, **params}
        )
        backup.operation_id = op.id
        return op.id


def _op(runtime: Runtime, op_id: int) -> StoreOperation:
    with runtime.db.transaction(write=False) as s:
        op = s.get(StoreOperation, op_id)
        assert op is not None
        return op


def _phase(runtime: Runtime, store_id: int) -> str:
    with runtime.db.transaction(write=False) as s:
        store = s.get(Store, store_id)
        assert store is not None
        return store.phase


def test_a_failed_backup_leaves_the_store_ready_and_says_why(runtime: Runtime) -> None:
    driver = Day2Driver()
    driver.fail.add("files")
    store_id = _ready_store(runtime)
    op_id = _ask(runtime, store_id, Operation.backup)
    StoreOperator(runtime, driver).operate(store_id)
    op = _op(runtime, op_id)
    assert op.status == OperationStatus.failed
    assert op.failure_reason == "step files: files broke"
    assert op.failed_step == "files"
    assert _phase(runtime, store_id) == Phase.ready
    assert not (runtime.settings.work_path / str(op_id)).exists()  # scratch removed
    with runtime.db.transaction(write=False) as s:
        [backup] = s.query(Backup).all()
        assert backup.status == BackupStatus.failed
        events = [e.message for e in repository.events(s, store_id, after_id=0, limit=50)]
    assert any("backup failed: step files: files broke" in m for m in events)


def test_a_failed_upgrade_is_followed_by_a_restore_from_its_backup(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storefleet.backups import service as backups

    def stored(runtime_: Runtime) -> object:
        def run(ctx: StepContext) -> StepOutcome:
            backup = {"id": ctx.operation.params["backup_id"], "target": "dir",
                      "location": "x.sfb", "sha256": "0" * 64, "size": 1,
                      "wordpress_version": "6.9.7", "woocommerce_version": "10.9.4"}  # fmt: skip
            return StepOutcome("stored", facts={"backup": backup})

        return run

    monkeypatch.setattr(backups, "store_step", stored)
    monkeypatch.setattr(
        backups, "fetch_step", lambda rt: Step("fetch", lambda ctx: StepOutcome("fetched"))
    )
    driver = Day2Driver()
    store_id = _ready_store(runtime)
    op_id = _ask(runtime, store_id, Operation.upgrade, wordpress="7.0.4", woocommerce="11.0.1")
    StoreOperator(runtime, driver).operate(store_id)
    op = _op(runtime, op_id)
    assert op.status == OperationStatus.failed and op.failed_step == "checkout"
    assert driver.ran == [
        "upgrade/database", "upgrade/files", "upgrade/files", "upgrade/upgrade",
        "restore/restore-files",
    ]  # fmt: skip
    with runtime.db.transaction(write=False) as s:
        [rollback] = repository.operations(s, store_id, kinds=[Operation.restore])
        assert rollback.status == OperationStatus.succeeded
        assert rollback.params["backup_id"] == op.params["backup_id"]
        assert rollback.requested_by == f"rollback of upgrade operation {op_id}"
        [backup] = s.query(Backup).all()
        assert backup.status == BackupStatus.completed
    assert _phase(runtime, store_id) == Phase.ready


def test_an_operation_the_phase_does_not_allow_is_cancelled(runtime: Runtime) -> None:
    driver = Day2Driver()
    store_id = _ready_store(runtime)
    with runtime.db.transaction() as s:
        store = s.get(Store, store_id)
        assert store is not None
        store.phase = Phase.suspended.value
    op_id = _ask(runtime, store_id, Operation.suspend)
    StoreOperator(runtime, driver).operate(store_id)
    op = _op(runtime, op_id)
    assert op.status == OperationStatus.cancelled
    assert op.failure_reason == "cancelled: the store is suspended"
    assert driver.ran == []


def test_the_lifecycle_refuses_edges_it_does_not_have(runtime: Runtime) -> None:
    store_id = _ready_store(runtime)
    with runtime.db.transaction() as s:
        store = s.get(Store, store_id)
        assert store is not None
        set_phase(s, store, Phase.degraded, "checks failed")
        set_phase(s, store, Phase.ready, "healthy again")
        with pytest.raises(IllegalTransition):
            set_phase(s, store, Phase.provisioning, "no")
        with pytest.raises(IllegalTransition):
            set_phase(s, store, Phase.deleted, "not without deleting")


def test_the_schedule_asks_for_due_backups_once_and_retention_expires_old_ones(
    runtime: Runtime,
) -> None:
    import datetime as dt

    from storefleet.db import utcnow
    from storefleet.operations import Reconciler

    store_id = _ready_store(runtime)
    with runtime.db.transaction() as s:
        store = s.get(Store, store_id)
        assert store is not None
        store.ready_at = utcnow() - dt.timedelta(hours=25)
    reconciler = Reconciler(runtime, Day2Driver())
    assert reconciler.schedule_backups() == [store_id]
    assert reconciler.schedule_backups() == []  # asked already, and in flight
    with runtime.db.transaction() as s:
        store = s.get(Store, store_id)
        assert store is not None
        store.backup_schedule_hours = 0  # this store opts out
        for op in repository.active_operations(s, store_id):
            op.status = OperationStatus.cancelled.value
        s.query(Backup).update({"created_at": utcnow() - dt.timedelta(hours=30)})
    assert reconciler.schedule_backups() == []

    # Retention: keep the newest one; the older object is deleted, its row kept.
    root = runtime.settings.backups_path
    root.mkdir(parents=True)
    with runtime.db.transaction() as s:
        for n in (1, 2):
            (root / f"b{n}.sfb").write_bytes(b"x")
            s.add(Backup(store_id=store_id, kind="manual", status="completed", requested_by="t",
                         target="dir", location=f"b{n}.sfb"))  # fmt: skip
    runtime.settings.backup_retention_count = 1
    assert reconciler.expire_backups() == 1
    assert not (root / "b1.sfb").exists() and (root / "b2.sfb").exists()
    with runtime.db.transaction(write=False) as s:
        statuses = {
            b.location: b.status for b in s.query(Backup).filter(Backup.location.is_not(None))
        }
    assert statuses == {"b1.sfb": "expired", "b2.sfb": "completed"}
