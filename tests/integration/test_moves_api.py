"""Moving a store between two platforms through their APIs alone (no worker:
the stores stay pending; the backup is made here as the store step makes
it): an export streamed under a passphrase, and its import refused for a
wrong passphrase, a damaged archive, another user's name, a taken name and
newer releases — leaving no row and no object — then accepted as the
owner's store whose first backup is the archive, sealed under the
importing platform's own key."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from storefleet.backups import archive
from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.backups.storage import backup_key, open_storage
from storefleet.db import utcnow
from storefleet.releases import targets
from storefleet.stores.models import Phase, Store, StoreOperation
from tests.integration.conftest import Platform
from tests.integration.test_day2_api import _set_phase
from tests.support import Api

PASSPHRASE = "a long passphrase of the operator's"


def _completed_backup(platform: Platform, store_id: int, tmp: Path) -> int:
    """A completed backup of the store, packed and stored as the store step does."""
    settings = platform.runtime.settings
    work = tmp / f"parts-{store_id}"
    work.mkdir()
    (work / archive.DATABASE).write_bytes(os.urandom(1 << 20) + b"wp_wc_orders")
    (work / archive.FILES).write_bytes(os.urandom(4096))
    with platform.runtime.db.transaction() as session:
        store = session.get(Store, store_id)
        assert store is not None
        manifest = {
            "store": {"name": store.name, "url": "http://old-shop.localhost:8080/",
                      "admin_email": "owner@example.com", "plan": "medium"},
            "wordpress_version": "7.0.4", "woocommerce_version": "11.0.1",
        }  # fmt: skip
        backup = Backup(store_id=store.id, kind="manual", requested_by="test")
        session.add(backup)
        session.flush()
        encrypted = tmp / f"backup-{backup.id}.sfb"
        with encrypted.open("wb") as out:
            packed = archive.pack(work, manifest, out, backup_key(settings))
        location = archive.object_name(store.uid, backup.id)
        open_storage(settings).put(encrypted, location)
        backup.status, backup.target, backup.location = "completed", "dir", location
        backup.sha256, backup.size_bytes = packed.sha256, packed.size
        backup.manifest, backup.completed_at = packed.manifest, utcnow()
        return backup.id


def _export(api: Api, store_id: int, backup_id: int, passphrase: str) -> httpx.Response:
    path = f"/api/stores/{store_id}/backups/{backup_id}/archive"
    return api.http.post(path, json={"passphrase": passphrase})


def _import(api: Api, data: bytes, passphrase: str, **form: str) -> httpx.Response:
    files = {"archive": ("shop.sfx", io.BytesIO(data), "application/octet-stream")}
    return api.http.post("/api/stores/import", data={"passphrase": passphrase, **form}, files=files)


def _state(platform: Platform) -> tuple[int, int, list[Path]]:
    """Stores and backups in the platform database, objects in its target."""
    with platform.runtime.db.transaction(write=False) as session:
        stores = session.scalar(select(func.count()).select_from(Store)) or 0
        backups = session.scalar(select(func.count()).select_from(Backup)) or 0
    root = platform.runtime.settings.backups_path
    return stores, backups, sorted(root.rglob("*.sfb")) if root.exists() else []


def test_a_store_is_exported_from_one_platform_and_imported_by_another(
    platform_factory: Callable[..., Platform], tmp_path: Path
) -> None:
    source, target = platform_factory(), platform_factory()
    admin = source.admin()
    store_id = admin.create_store("old-shop").json()["id"]
    backup_id = _completed_backup(source, store_id, tmp_path)

    # The export: a backup of kind export is an operation like any backup.
    resp = admin.http.post(f"/api/stores/{store_id}/exports")
    assert resp.status_code == 409, resp.text  # a pending store cannot be backed up
    short = _export(admin, store_id, backup_id, "too short")
    assert short.status_code == 422 and "too short" not in short.text
    resp = _export(admin, store_id, backup_id, PASSPHRASE)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-disposition"] == (
        f'attachment; filename="old-shop-backup-{backup_id}.sfx"'
    )
    data = resp.content
    assert data[:4] == b"SFX1" and b"wp_wc_orders" not in data
    audit = admin.http.get("/api/audit", params={"action": "store.export"}).json()["items"]
    assert audit[0]["target"] == f"store:{store_id}" and PASSPHRASE not in str(audit)
    stranger = source.member()
    assert _export(stranger, store_id, backup_id, PASSPHRASE).status_code == 404

    # Refusals leave nothing behind on the importing platform.
    importer = target.admin()
    member_email = "merchant-here@example.com"
    member = target.member(member_email)
    before = _state(target)
    wrong = _import(importer, data, PASSPHRASE + "?", owner_email=member_email)
    assert wrong.status_code == 422, wrong.text
    assert "passphrase does not open this archive" in wrong.json()["detail"]
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x40
    broken = _import(importer, bytes(damaged), PASSPHRASE, owner_email=member_email)
    assert broken.status_code == 422 and "damaged" in broken.json()["detail"], broken.text
    for_another = _import(member, data, PASSPHRASE, owner_email="admin@example.com")
    assert for_another.status_code == 403, for_another.text
    nobody = _import(importer, data, PASSPHRASE, owner_email="nobody@example.com")
    assert nobody.status_code == 422 and "no active user" in nobody.json()["detail"]
    assert _state(target) == before
    refused = importer.http.get("/api/audit", params={"action": "store.import"}).json()
    assert [a["result"] for a in refused["items"]][:2] == ["failure", "failure"]

    # Imported: the owner's store, the archive its first backup under this platform's key.
    resp = _import(importer, data, PASSPHRASE, owner_email=member_email)
    assert resp.status_code == 202, resp.text
    store = resp.json()
    assert store["name"] == "old-shop" and store["status"] == "pending"
    assert store["owner_email"] == member_email and store["admin_email"] == "owner@example.com"
    assert store["plan"] == "medium" and store["admin_password"]
    assert (store["wordpress_version"], store["woocommerce_version"]) == ("7.0.4", "11.0.1")
    [backup] = member.backups(store["id"])
    assert (backup["kind"], backup["status"]) == (BackupKind.imported, BackupStatus.completed)
    assert backup["manifest"]["store"]["url"] == "http://old-shop.localhost:8080/"
    [stored] = [p for p in _state(target)[2] if p not in before[2]]
    out = tmp_path / "unpacked"
    out.mkdir()
    key = backup_key(target.runtime.settings)
    assert archive.unpack(stored, out, key)["parts"] == backup["manifest"]["parts"]
    with target.runtime.db.transaction(write=False) as session:
        [op] = session.scalars(
            select(StoreOperation).where(StoreOperation.store_id == store["id"])
        ).all()
        assert op.kind == "provision" and op.params["source_backup"]["id"] == backup["id"]
        assert session.get(Backup, backup["id"]).operation_id == op.id  # type: ignore[union-attr]

    # A taken name, and releases newer than the platform's: nothing left either.
    before = _state(target)
    taken = _import(importer, data, PASSPHRASE)
    assert taken.status_code == 409, taken.text
    with target.runtime.db.transaction() as session:
        targets.set_targets(session, {"wordpress": "6.9.7", "woocommerce": "10.9.4"}, "test")
    newer = _import(importer, data, PASSPHRASE, name="older-platform")
    assert newer.status_code == 422, newer.text
    assert "WordPress 7.0.4, newer than this platform's 6.9.7" in newer.json()["detail"]
    assert _state(target) == before


def test_an_export_is_a_backup_operation_of_its_own(platform: Platform) -> None:
    member = platform.member()
    store_id = member.create_store("leaving-shop").json()["id"]
    _set_phase(platform, store_id, Phase.ready)
    resp = member.http.post(f"/api/stores/{store_id}/exports")
    assert resp.status_code == 202, resp.text
    backup: dict[str, Any] = resp.json()
    assert (backup["kind"], backup["status"]) == ("export", "pending")
    ops = member.http.get(f"/api/stores/{store_id}/operations").json()
    assert (ops[0]["kind"], ops[0]["params"]) == (
        "backup", {"backup_id": backup["id"], "kind": "export"},
    )  # fmt: skip
    pending = _export(member, store_id, backup["id"], PASSPHRASE)
    assert pending.status_code == 409 and "only a completed backup" in pending.json()["detail"]
