"""Each operation's named list of steps: the driver's step functions, with
the platform's own steps composed around them.

    provision   driver.provision_steps()
                clone:  fetch → driver.provision_steps(clone=True)
                staging copy: source-database → source-files → source-store
                        (a fresh backup of the live store) → fetch
                        → driver.provision_steps(clone=True) with stage
                        after the step that sets the admin password
    delete      [backup-database → backup-files → backup-store] → driver.delete_steps()
    backup      database → files → store
    restore     fetch → driver.restore_steps()
    upgrade     backup-database → backup-files → backup-store
                → driver.upgrade_steps() → checkout
    suspend     driver.suspend_steps()
    resume      driver.resume_steps()
    resize      driver.resize_steps()
    domain      driver.domain_steps(certificates) → release
    push        backup-database → backup-files → backup-store (of live)
                → driver.push_steps(files, database)
    refresh     source-database → source-files → source-store → fetch
                → driver.restore_steps() with stage after address
    adopt       driver.adopt_steps()   (a standby of the warm pool becomes a new store)

The platform's steps: ``store`` and ``fetch`` put a backup into its target
and bring one back (``storefleet.backups.service``); ``checkout``
places a real order through the store's Store API as a shopper would, and has
the driver confirm it as the store's admin and remove it; ``certificates``
and ``release`` obtain the store's domains' certificates and free the names
of removed ones (``storefleet.domains.issuance``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from storefleet import smoke
from storefleet.backups import service as backups
from storefleet.domains import issuance
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
)
from storefleet.operations.context import snapshot_of
from storefleet.runtime import Runtime
from storefleet.stores.models import Operation, Store

UPGRADE_BACKUP_STEPS = ("backup-database", "backup-files", "backup-store")
#: What a push may be asked to put into live.
PUSH_WHAT = ("files", "database", "both")


def steps_for(
    driver: StoreDriver, runtime: Runtime, kind: Operation, params: Mapping[str, Any]
) -> Sequence[Step]:
    if kind is Operation.provision:
        if params.get("live"):
            clone = driver.provision_steps(clone=True)
            return (
                *_source_backup_steps(driver, runtime),
                backups.fetch_step(runtime),
                *_with_stage(driver, clone, lambda st: st.consumes_admin_password),
            )
        if params.get("source_backup"):
            return (backups.fetch_step(runtime), *driver.provision_steps(clone=True))
        return driver.provision_steps()
    if kind is Operation.delete:
        before: tuple[Step, ...] = ()
        if params.get("backup_id"):
            before = _backup_steps(driver, runtime, prefix="backup-")
        return (*before, *driver.delete_steps())
    if kind is Operation.backup:
        return _backup_steps(driver, runtime)
    if kind is Operation.restore:
        return (backups.fetch_step(runtime), *driver.restore_steps())
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
    if kind is Operation.resize:
        return driver.resize_steps()
    if kind is Operation.domain:
        certificates = Step("certificates", issuance.certificates_step(runtime, driver))
        return (
            *driver.domain_steps(certificates),
            Step("release", issuance.release_step(runtime)),
        )
    if kind is Operation.push:
        what = params.get("what")
        if what not in PUSH_WHAT:
            raise ValueError(f"a push of {what!r}")
        return (
            *_backup_steps(driver, runtime, prefix="backup-"),
            *driver.push_steps(files=what != "database", database=what != "files"),
        )
    if kind is Operation.refresh:
        return (
            *_source_backup_steps(driver, runtime),
            backups.fetch_step(runtime),
            *_with_stage(driver, driver.restore_steps(), lambda st: st.name == "address"),
        )
    if kind is Operation.adopt:
        return driver.adopt_steps()
    raise ValueError(f"no steps for {kind}")


def _backup_steps(driver: StoreDriver, runtime: Runtime, prefix: str = "") -> tuple[Step, ...]:
    parts = tuple(
        dataclasses.replace(step, name=prefix + step.name, writes_scratch=True)
        for step in driver.backup_steps()
    )
    return (*parts, Step(prefix + "store", backups.store_step(runtime), reads_scratch=True))


def _source_backup_steps(driver: StoreDriver, runtime: Runtime) -> tuple[Step, ...]:
    """A backup of the live store a staging copy is of (``params['live']``),
    taken by the copy's operation: the backup steps run on the live store."""
    parts = tuple(
        dataclasses.replace(
            step, name="source-" + step.name, writes_scratch=True, run=_on_live(runtime, step.run)
        )
        for step in driver.backup_steps()
    )
    store = Step("source-store", _on_live(runtime, backups.store_step(runtime)), reads_scratch=True)
    return (*parts, store)


def _on_live(runtime: Runtime, run: Callable[[StepContext], Any]) -> Callable[[StepContext], Any]:
    def on_live(ctx: StepContext) -> Any:
        live = ctx.operation.params.get("live")
        if not isinstance(live, Mapping):
            raise PermanentError("the operation names no live store")
        with runtime.db.transaction(write=False) as session:
            store = session.get(Store, int(live["id"]))
            if store is None or store.uid != live.get("uid"):
                raise PermanentError(f"the live store {live.get('id')} is gone")
            snapshot = snapshot_of(store)
        # The same operation and scratch directory, the live store's files
        # and database; a backup step records nothing on the store.
        other = copy.copy(ctx)
        other.store = snapshot
        return run(other)

    return on_live


def _with_stage(
    driver: StoreDriver, steps: Sequence[Step], after: Callable[[Step], bool]
) -> tuple[Step, ...]:
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if after(step):
            out.append(driver.stage_step())
    return tuple(out)


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
