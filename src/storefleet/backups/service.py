"""Backups as a service of their own: the platform's half of the backup and
restore operations, and how a backup row follows the operation that takes it.

- :func:`store_step` packs the parts a driver's backup steps wrote into the
  operation's scratch directory (the database dump, wp-content) with a
  manifest, encrypts them with the platform's backup key and puts the object
  in the backup target (a directory or S3);
- :func:`fetch_step` brings one back, refuses it unless its digest matches
  the recorded one, and unpacks it for the driver's restore steps;
- :func:`restore_params` is what a restore or a clone needs to know of a
  backup (never a secret: the key comes from the settings);
- :func:`apply_facts` and :func:`fail_for_operation` complete or fail the
  backup's row when its operation's step reports or the operation ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefleet.backups import archive
from storefleet.backups.models import Backup, BackupStatus
from storefleet.backups.storage import StorageError, backup_key, open_storage
from storefleet.checksums import file_sha256
from storefleet.db import utcnow
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    TransientError,
)
from storefleet.runtime import Runtime
from storefleet.stores.models import Store, StoreOperation


def _storage_error(exc: StorageError) -> Exception:
    return TransientError(str(exc)) if exc.transient else PermanentError(str(exc))


def store_step(runtime: Runtime) -> Any:
    def run(ctx: StepContext) -> StepOutcome:
        settings = runtime.settings
        backup_id = ctx.operation.params.get("backup_id")
        if not backup_id:
            raise PermanentError("the operation names no backup to take")
        store = ctx.store
        manifest = {
            "backup_id": backup_id,
            "store": {
                "uid": store.uid,
                "name": store.name,
                "url": store.url,
                "admin_email": store.admin_email,
                "plan": store.plan,
            },
            "wordpress_version": store.wordpress_version,
            "woocommerce_version": store.woocommerce_version,
            "taken_at": ctx.operation.result.get("taken_at"),
            "database": ctx.operation.result.get("database"),
            "files": ctx.operation.result.get("files"),
        }
        # One name per backup: a retry overwrites the object it began.
        location = archive.object_name(store.uid, int(backup_id))
        encrypted = ctx.workdir / "backup.sfb"
        try:
            with encrypted.open("wb") as out:
                packed = archive.pack(ctx.workdir, manifest, out, backup_key(settings))
        except FileNotFoundError as exc:
            raise PermanentError(str(exc)) from exc
        storage = open_storage(settings)
        try:
            storage.put(encrypted, location)
        except StorageError as exc:
            raise _storage_error(exc) from exc
        finally:
            encrypted.unlink(missing_ok=True)
        facts = {
            "backup": {
                "id": backup_id,
                "target": storage.name,
                "location": location,
                "sha256": packed.sha256,
                "size": packed.size,
                "wordpress_version": store.wordpress_version,
                "woocommerce_version": store.woocommerce_version,
                "manifest": packed.manifest,
            }
        }
        mib = packed.size / (1 << 20)
        return StepOutcome(
            f"backup {backup_id}: {mib:.1f} MiB encrypted in {storage.name} ({location})",
            facts=facts,
        )

    return run


def fetch_step(runtime: Runtime) -> Step:
    def run(ctx: StepContext) -> StepOutcome:
        source = ctx.operation.params.get("source_backup")
        taken = ctx.operation.result.get("backup")
        if source is None and isinstance(taken, Mapping):
            # The backup this operation took itself (a staging copy's).
            source = restore_params(taken)["source_backup"]
        if not isinstance(source, Mapping):
            raise PermanentError("the operation names no backup to restore")
        settings = runtime.settings
        try:
            storage = open_storage(settings, str(source["target"]))
        except StorageError as exc:
            raise _storage_error(exc) from exc
        encrypted = ctx.workdir / "backup.sfb"
        try:
            storage.get(str(source["location"]), encrypted)
        except StorageError as exc:
            raise _storage_error(exc) from exc
        try:
            digest = file_sha256(encrypted)
            if digest != source["sha256"]:
                raise PermanentError(
                    f"backup {source['id']} does not match its recorded digest (SHA-256 "
                    f"{digest[:16]}…, recorded {str(source['sha256'])[:16]}…): it was changed "
                    "or damaged in storage; refusing to restore it"
                )
            try:
                manifest = archive.unpack(encrypted, ctx.workdir, backup_key(settings))
            except archive.BackupError as exc:
                raise PermanentError(f"backup {source['id']}: {exc}") from exc
        finally:
            encrypted.unlink(missing_ok=True)
        return StepOutcome(
            f"backup {source['id']} fetched from {storage.name}, digest checked, decrypted: "
            f"WordPress {manifest.get('wordpress_version')}, WooCommerce "
            f"{manifest.get('woocommerce_version')}",
        )

    return Step("fetch", run, writes_scratch=True)


def restore_params(backup: Backup | Mapping[str, Any]) -> dict[str, Any]:
    """What a restore (or a clone) needs to know of a backup: where it is and
    its digest. No secrets: the key comes from the settings."""
    if isinstance(backup, Backup):
        backup = {
            "id": backup.id, "target": backup.target, "location": backup.location,
            "sha256": backup.sha256, "size": backup.size_bytes,
            "wordpress_version": backup.wordpress_version,
            "woocommerce_version": backup.woocommerce_version,
        }  # fmt: skip
    return {
        "backup_id": backup["id"],
        "source_backup": {
            "id": backup["id"],
            "target": backup["target"],
            "location": backup["location"],
            "sha256": backup["sha256"],
            "size": backup.get("size"),
            "wordpress_version": backup.get("wordpress_version"),
            "woocommerce_version": backup.get("woocommerce_version"),
        },
    }


def fail_for_operation(session: Session, operation_id: int, reason: str) -> None:
    rows = session.scalars(
        select(Backup).where(
            Backup.operation_id == operation_id, Backup.status == BackupStatus.pending.value
        )
    ).all()
    for backup in rows:
        backup.status = BackupStatus.failed.value
        backup.failure_reason = reason


def apply_facts(session: Session, store: Store, op: StoreOperation, facts: dict[str, Any]) -> None:
    """A backup step stored its object: complete the backup's row."""
    info = facts.get("backup")
    if not isinstance(info, dict):
        return
    backup = session.get(Backup, int(info["id"]))
    # The store's own backup, or one this operation took of another store
    # (a staging copy's operation backs its live store up).
    if backup is None or (backup.store_id != store.id and backup.operation_id != op.id):
        return
    backup.status = BackupStatus.completed.value
    backup.target = str(info["target"])
    backup.location = str(info["location"])
    backup.sha256 = str(info["sha256"])
    backup.size_bytes = int(info["size"])
    backup.wordpress_version = info.get("wordpress_version")
    backup.woocommerce_version = info.get("woocommerce_version")
    backup.manifest = info.get("manifest")
    backup.completed_at = utcnow()
