"""Each operation's named list of steps: the driver's step functions, with
the platform's own steps composed around them.

    provision   driver.provision_steps()
                clone:  fetch → driver.provision_steps(clone=True)
    delete      [backup-database → backup-files → backup-store] → driver.delete_steps()
    backup      database → files → store
    restore     fetch → driver.restore_steps()
    upgrade     backup-database → backup-files → backup-store
                → driver.upgrade_steps() → checkout
    suspend     driver.suspend_steps()
    resume      driver.resume_steps()

The platform's steps: ``store`` packs the parts the driver wrote into the
operation's scratch directory, encrypts them and puts the object in the
backup target; ``fetch`` brings one back, refuses it unless its digest
matches the recorded one, and unpacks it for the driver's steps; ``checkout``
places a real order through the store's Store API as a shopper would, and has
the driver confirm it as the store's admin and remove it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from storefleet import smoke
from storefleet.backups import archive
from storefleet.backups.storage import StorageError, backup_key, open_storage
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    TransientError,
)
from storefleet.runtime import Runtime
from storefleet.stores.models import Operation

UPGRADE_BACKUP_STEPS = ("backup-database", "backup-files", "backup-store")


def steps_for(
    driver: StoreDriver, runtime: Runtime, kind: Operation, params: Mapping[str, Any]
) -> Sequence[Step]:
    if kind is Operation.provision:
        if params.get("source_backup"):
            return (_fetch_step(runtime), *driver.provision_steps(clone=True))
        return driver.provision_steps()
    if kind is Operation.delete:
        before: tuple[Step, ...] = ()
        if params.get("backup_id"):
            before = _backup_steps(driver, runtime, prefix="backup-")
        return (*before, *driver.delete_steps())
    if kind is Operation.backup:
        return _backup_steps(driver, runtime)
    if kind is Operation.restore:
        return (_fetch_step(runtime), *driver.restore_steps())
    if kind is Operation.upgrade:
        return (
            *_backup_steps(driver, runtime, prefix="backup-"),
            *driver.upgrade_steps(),
            Step("checkout", _checkout(driver)),
        )
    if kind is Operation.suspend:
        return driver.suspend_steps()
    if kind is Operation.resume:
        return driver.resume_steps()
    raise ValueError(f"no steps for {kind}")


def _backup_steps(driver: StoreDriver, runtime: Runtime, prefix: str = "") -> tuple[Step, ...]:
    parts = tuple(
        dataclasses.replace(step, name=prefix + step.name, writes_scratch=True)
        for step in driver.backup_steps()
    )
    return (*parts, Step(prefix + "store", _store_backup(runtime), reads_scratch=True))


def _storage_error(exc: StorageError) -> Exception:
    return TransientError(str(exc)) if exc.transient else PermanentError(str(exc))


def _store_backup(runtime: Runtime) -> Any:
    def run(ctx: StepContext) -> StepOutcome:
        settings = runtime.settings
        backup_id = ctx.operation.params.get("backup_id")
        if not backup_id:
            raise PermanentError("the operation names no backup to take")
        store = ctx.store
        manifest = {
            "backup_id": backup_id,
            "store": {"uid": store.uid, "name": store.name, "url": store.url},
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


def _fetch_step(runtime: Runtime) -> Step:
    def run(ctx: StepContext) -> StepOutcome:
        source = ctx.operation.params.get("source_backup")
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
            digest = archive.file_sha256(encrypted)
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


def _checkout(driver: StoreDriver) -> Any:
    def run(ctx: StepContext) -> StepOutcome:
        if not ctx.store.url:
            raise PermanentError("the store has no URL")
        product_id = driver.checkout_product(ctx)
        try:
            order_id = smoke.place_order(
                ctx.store.url, product_id=product_id, timeout=min(60.0, ctx.remaining())
            )
        except smoke.WooCommerceMissing as exc:
            raise PermanentError(f"the checkout test could not run: {exc}") from exc
        except smoke.SmokeTestError as exc:
            raise PermanentError(f"the checkout test failed: {exc}") from exc
        except httpx.HTTPError as exc:
            raise PermanentError(
                f"the checkout test failed: the store did not answer: {exc}"
            ) from exc
        order = driver.confirm_order(ctx, order_id)
        if order.get("payment_method") != "cod":
            raise PermanentError(
                f"test order {order_id} was not taken as Cash on Delivery: {order}"
            )
        return StepOutcome(
            f"test order {order_id} placed through the Store API, confirmed as the admin "
            f"({order.get('status')}, {order.get('total')}) and removed",
            facts={"checkout": {"order_id": order_id, **order}},
        )

    return run
