"""The warm pool: standby stores, provisioned ahead of need, that "Create
store" adopts so that a merchant's store is ready in about a second.

A standby is an ordinary store row with ``standby`` set and no owner: it is
provisioned by the same ``provision`` operation as any store (with sample
products, the platform's pinned releases and its default plan), then waits
``ready``. Nobody sees it: it is never listed, counted against a quota, shown
in a fleet summary or a fleet upgrade's counts, backed up or given wp-cron;
webhooks never hear of it. ``/metrics`` shows the pool's size
(``storefleet_warm_pool_stores``).

- :func:`refill` (the reconciler's sweep) keeps ``STOREFLEET_WARM_POOL_SIZE``
  standbys: it asks for new ones (once no adoption is in flight), and
  removes standbys that failed, that
  are more than the pool wants, or whose releases are no longer the
  platform's (when no upgrade of theirs is in flight).
- :func:`take` (a creation) makes one standby the merchant's store in the
  request's transaction: a conditional update that only succeeds on a row
  that is still a ready standby with nothing in flight, so two requests never
  take the same one. Its ``adopt`` operation then gives it the store's name,
  address, title, admin, sample products choice and fresh secrets (the
  driver's ``adopt_steps``). When no standby is ready the caller provisions
  the store as before.
"""

from __future__ import annotations

import logging

from sqlalchemy import Exists, exists, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from storefleet.audit import service as audit
from storefleet.auth import passwords
from storefleet.auth.models import User
from storefleet.db import after_commit, utcnow
from storefleet.exceptions import Conflict
from storefleet.names import new_store_uid
from storefleet.operations.lifecycle import set_phase
from storefleet.releases import targets as platform_releases
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import (
    ACTIVE_OPERATION,
    Desired,
    Operation,
    Phase,
    Store,
    StoreEvent,
    StoreOperation,
)
from storefleet.stores.schemas import StoreCreate

log = logging.getLogger(__name__)

#: A standby's name: ``standby-<its uid>`` (a valid store name no merchant
#: can hold at the same time: live names are unique).
STANDBY_PREFIX = "standby-"
#: Its WordPress admin's address until adoption (``.invalid``: never delivered).
STANDBY_EMAIL = "standby@storefleet.invalid"
REQUESTED_BY = "warm pool"


def _has_active_operation() -> Exists:
    return exists().where(
        StoreOperation.store_id == Store.id,
        StoreOperation.status.in_([s.value for s in ACTIVE_OPERATION]),
    )


def refill(runtime: Runtime, size: int) -> dict[str, list[int]]:
    """Ask for the standbys the pool lacks and remove those it should not
    keep; returns the ids asked for (``added``) and removed (``removed``)."""
    settings = runtime.settings
    added: list[int] = []
    removed: list[int] = []
    with runtime.db.transaction() as session:
        pins = platform_releases.current(session)
        standbys = list(
            session.scalars(
                select(Store)
                .where(
                    Store.standby.is_(True),
                    Store.desired == Desired.present.value,
                    Store.phase != Phase.deleted.value,
                    Store.driver == settings.driver.value,
                )
                .order_by(Store.id)
            ).all()
        )
        busy = set(
            session.scalars(
                select(Store.id).where(Store.standby.is_(True), _has_active_operation())
            ).all()
        )
        keep: list[Store] = []
        for store in standbys:
            stale = (store.wordpress_version, store.woocommerce_version) != (
                pins["wordpress"], pins["woocommerce"],
            )  # fmt: skip
            if store.phase == Phase.failed or (stale and store.id not in busy):
                _remove(session, runtime, store, "failed" if store.phase == Phase.failed else
                        "its releases are no longer the platform's")  # fmt: skip
                removed.append(store.id)
            else:
                keep.append(store)
        # Fewer wanted: the ones not ready yet go first (nothing to lose).
        for store in sorted(keep, key=lambda s: (s.phase == Phase.ready, -s.id))[
            : max(0, len(keep) - size)
        ]:
            _remove(session, runtime, store, "the pool is smaller now")
            removed.append(store.id)
        # Not while a creation adopts a standby: on a small machine the new
        # standbys' installs would take the CPU its first requests need.
        adopting = session.scalar(
            select(StoreOperation.id)
            .where(
                StoreOperation.kind == Operation.adopt.value,
                StoreOperation.status.in_([s.value for s in ACTIVE_OPERATION]),
            )
            .limit(1)
        )
        for _ in range(max(0, size - len(keep)) if adopting is None else 0):
            added.append(_add(session, runtime, pins).id)
    if added or removed:
        log.info("warm pool: asked for standby stores %s, removing %s", added, removed)
    return {"added": added, "removed": removed}


def _add(session: Session, runtime: Runtime, pins: dict[str, str]) -> Store:
    settings = runtime.settings
    uid = new_store_uid()
    name = STANDBY_PREFIX + uid
    store = Store(
        owner_id=None, name=name, uid=uid, live_name=name, standby=True,
        sample_products=True, plan=settings.default_plan,
        wordpress_version=pins["wordpress"], woocommerce_version=pins["woocommerce"],
        driver=settings.driver.value, desired=Desired.present.value, phase=Phase.pending.value,
        admin_email=STANDBY_EMAIL,
        # A password nobody knows, wiped once installed; adoption sets the merchant's.
        admin_password_enc=runtime.box.seal(passwords.generate_password()),
    )  # fmt: skip
    session.add(store)
    session.flush()
    repository.add_operation(session, store, Operation.provision, requested_by=REQUESTED_BY)
    repository.add_event(session, store.id, "phase", "Standby store requested by the warm pool")
    _request_work(session, runtime, store)
    return store


def _remove(session: Session, runtime: Runtime, store: Store, why: str) -> None:
    store.desired = Desired.absent.value
    if store.phase != Phase.deleting:
        set_phase(session, store, Phase.deleting, f"Removed from the warm pool: {why}")
    _request_work(session, runtime, store)


def _request_work(session: Session, runtime: Runtime, store: Store) -> None:
    store.enqueued_at = utcnow()
    queue, store_id = runtime.queue, store.id
    after_commit(session, lambda: queue.enqueue_store(store_id))


def adopt(
    session: Session,
    runtime: Runtime,
    user: User,
    data: StoreCreate,
    password: str,
    plan: str,
    pins: dict[str, str],
    client_ip: str,
) -> Store | None:
    """The new store made from a ready standby (its ``adopt`` operation
    recorded; the caller asks a worker to look), or None when the pool has
    none. 409 when the name was taken meanwhile."""
    try:
        with session.begin_nested():
            store = take(session, runtime, user, name=data.name, pins=pins)
    except IntegrityError as exc:
        raise Conflict(f"The name {data.name!r} is taken by another store") from exc
    if store is None:
        return None
    store.sample_products = data.sample_products
    store.plan = plan
    store.admin_email = str(data.admin_email)
    store.admin_password_enc = runtime.box.seal(password)
    repository.add_operation(session, store, Operation.adopt, requested_by=user.email)
    audit.record(
        session, "store.create", actor=user, target=f"store:{store.id}",
        detail={"name": store.name, "warm_pool": True}, client_ip=client_ip,
    )  # fmt: skip
    return store


def take(
    session: Session,
    runtime: Runtime,
    user: User,
    *,
    name: str,
    pins: dict[str, str],
) -> Store | None:
    """Make a ready standby ``user``'s store named ``name`` (phase
    ``pending``, no operation yet), or None when none is ready. Raises
    IntegrityError when the name was taken meanwhile."""
    ready: tuple[ColumnElement[bool], ...] = (
        Store.standby.is_(True),
        Store.phase == Phase.ready.value,
        Store.desired == Desired.present.value,
        Store.driver == runtime.settings.driver.value,
        Store.wordpress_version == pins["wordpress"],
        Store.woocommerce_version == pins["woocommerce"],
        not_(_has_active_operation()),
    )
    candidates = session.scalars(select(Store.id).where(*ready).order_by(Store.id).limit(5)).all()
    for store_id in candidates:
        # Only one request can turn this row from a ready standby into a store.
        taken = session.execute(
            update(Store)
            .where(Store.id == store_id, *ready)
            .values(standby=False, owner_id=user.id, name=name, live_name=name)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            store = session.get(Store, store_id, populate_existing=True)
            if store is not None:  # just updated in this transaction: it is there
                _reset(session, store, user)
                return store
    return None


def _reset(session: Session, store: Store, user: User) -> None:
    """The row as a new store's: its standby life's timeline goes (its
    operations stay, for the record), its clocks start now."""
    session.execute(
        StoreEvent.__table__.delete().where(StoreEvent.store_id == store.id)  # type: ignore[attr-defined]
    )
    now = utcnow()
    store.owner = user
    store.created_at = now
    store.ready_at = None
    store.health_failures = 0
    store.health_checked_at = None
    store.failure_reason = None
    store.backup_schedule_hours = None
    set_phase(session, store, Phase.pending, f"Store requested by {user.email}")
