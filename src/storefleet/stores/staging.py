"""Staging copies of a live store (docs/staging.md).

- :func:`create`: a new store, cloned from a fresh backup of the live one
  that the copy's own provisioning takes (``source-*`` steps), then made a
  staging copy (``stage``: noindex, mail kept and never sent, offline
  payment methods only); it expires after ``days`` unless extended;
- :func:`push`: the copy's files, database or both into the live store, as
  an operation on the live store that backs it up first and is rolled back
  from that backup when it fails;
- :func:`refresh`: the copy made again from a fresh backup of live;
- :func:`extend` and :func:`expire_due` (the reconciler's): its expiry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import passwords
from storefleet.auth.models import User
from storefleet.backups import repository as backups
from storefleet.backups.models import BackupKind
from storefleet.db import utcnow
from storefleet.exceptions import Conflict
from storefleet.names import is_valid_store_name, new_store_uid
from storefleet.operations.lifecycle import set_phase
from storefleet.runtime import Runtime
from storefleet.stores import day2, quotas, repository, service
from storefleet.stores.models import (
    RUNNING,
    Desired,
    Operation,
    Phase,
    Store,
    StoreOperation,
)

#: A copy's life when none is asked for, and the longest one may ask for.
DEFAULT_DAYS = 14
MAX_DAYS = 90


def _live_params(live: Store) -> dict[str, object]:
    return {"id": live.id, "uid": live.uid, "name": live.name, "url": live.url}


def _staging_params(copy: Store) -> dict[str, object]:
    return {
        "id": copy.id, "uid": copy.uid, "name": copy.name, "url": copy.url,
        "wordpress_version": copy.wordpress_version,
        "woocommerce_version": copy.woocommerce_version,
    }  # fmt: skip


def _copy_name(session: Session, live: Store, wanted: str | None) -> str:
    if wanted:
        return wanted
    base = f"{live.name[:32].rstrip('-')}-staging"
    for n in range(1, 100):
        name = base if n == 1 else f"{base[:37]}-{n}"
        if is_valid_store_name(name) and repository.by_live_name(session, name) is None:
            return name
    raise Conflict("No free name for a staging copy: give one")


def create(
    session: Session,
    runtime: Runtime,
    user: User,
    live_id: int,
    *,
    name: str | None,
    days: int | None,
    admin_password: str | None,
    client_ip: str,
) -> tuple[Store, str | None]:
    """A staging copy of store ``live_id``; returns it and the generated
    admin password (shown once), if one was generated."""
    live = service.get_visible(session, user, live_id, for_update=True)
    if live.staging_of_id is not None:
        raise Conflict("This store is itself a staging copy: copy its live store instead")
    if live.desired != Desired.present or live.phase not in RUNNING:
        raise Conflict(f"A store that is {live.phase} cannot be copied to staging")
    service.in_flight(session, live)
    name = _copy_name(session, live, name)
    quotas.check(session, runtime.settings, user, name, client_ip)
    if repository.by_live_name(session, name) is not None:
        raise Conflict(f"The name {name!r} is taken by another store")
    generated = None
    if admin_password is None:
        admin_password = generated = passwords.generate_password()
    copy = Store(
        owner_id=live.owner_id, owner=live.owner, name=name, uid=new_store_uid(), live_name=name,
        sample_products=False, plan=live.plan, wordpress_version=live.wordpress_version,
        woocommerce_version=live.woocommerce_version, driver=live.driver,
        desired=Desired.present.value, phase=Phase.pending.value, admin_email=live.admin_email,
        admin_password_enc=runtime.box.seal(admin_password), staging_of_id=live.id,
        expires_at=utcnow() + dt.timedelta(days=days or DEFAULT_DAYS),
    )  # fmt: skip
    session.add(copy)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The name {name!r} is taken by another store") from exc
    backup = backups.create(session, live, BackupKind.staging, requested_by=user.email)
    op = repository.add_operation(
        session, copy, Operation.provision, requested_by=user.email,
        params={"backup_id": backup.id, "live": _live_params(live)},
    )  # fmt: skip
    backup.operation_id = op.id
    repository.add_event(
        session, copy.id, "phase",
        f"Staging copy of {live.name} requested by {user.email}, from a fresh backup "
        f"({backup.id}); expires {copy.expires_at:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    repository.add_event(
        session, live.id, "operation", f"Staging copy {name} requested by {user.email}"
    )
    audit.record(
        session, "store.staging", actor=user, target=f"store:{live.id}",
        detail={"staging_store_id": copy.id, "name": name}, client_ip=client_ip,
    )  # fmt: skip
    service.request_work(session, runtime, copy)
    return copy, generated


def copies(session: Session, user: User, live_id: int) -> list[Store]:
    """The live store's staging copies (not deleted), newest first."""
    live = service.get_visible(session, user, live_id)
    rows = session.scalars(
        select(Store)
        .where(Store.staging_of_id == live.id, Store.phase != Phase.deleted.value)
        .order_by(Store.id.desc())
    ).all()
    return list(rows)


def _copy_and_live(session: Session, user: User, staging_id: int) -> tuple[Store, Store]:
    copy = service.get_visible(session, user, staging_id, for_update=True)
    if copy.staging_of_id is None:
        raise Conflict("This store is not a staging copy")
    live = repository.get(session, copy.staging_of_id, for_update=True)
    if live is None or live.desired != Desired.present or live.phase == Phase.deleted:
        raise Conflict("The live store of this staging copy is gone")
    return copy, live


def push(
    session: Session, runtime: Runtime, user: User, staging_id: int, what: str, *, client_ip: str
) -> StoreOperation:
    """Push the copy's ``what`` (files, database, both) into its live store."""
    copy, live = _copy_and_live(session, user, staging_id)
    if copy.phase not in RUNNING:
        raise Conflict(f"A staging copy that is {copy.phase} cannot be pushed")
    service.in_flight(session, copy)
    backup = backups.create(session, live, BackupKind.push, requested_by=user.email)
    op = day2.request_operation(
        session, runtime, user, live, Operation.push,
        {"what": what, "backup_id": backup.id, "staging": _staging_params(copy)},
        client_ip=client_ip,
    )  # fmt: skip
    backup.operation_id = op.id
    repository.add_event(
        session, copy.id, "operation", f"Push ({what}) to {live.name} requested by {user.email}"
    )
    return op


def refresh(
    session: Session, runtime: Runtime, user: User, staging_id: int, *, client_ip: str
) -> StoreOperation:
    """Make the copy again from a fresh backup of its live store."""
    copy, live = _copy_and_live(session, user, staging_id)
    if live.phase not in RUNNING:
        raise Conflict(f"The live store is {live.phase}: it cannot be copied now")
    service.in_flight(session, live)
    backup = backups.create(session, live, BackupKind.staging, requested_by=user.email)
    op = day2.request_operation(
        session, runtime, user, copy, Operation.refresh,
        {"backup_id": backup.id, "live": _live_params(live)}, client_ip=client_ip,
    )  # fmt: skip
    backup.operation_id = op.id
    return op


def extend(session: Session, user: User, staging_id: int, days: int, *, client_ip: str) -> Store:
    """The copy lives ``days`` more (from now, or from its expiry if later),
    at most :data:`MAX_DAYS` from now."""
    copy = service.get_visible(session, user, staging_id, for_update=True)
    if copy.staging_of_id is None or copy.expires_at is None:
        raise Conflict("This store is not a staging copy: it does not expire")
    now = utcnow()
    copy.expires_at = min(max(copy.expires_at, now) + dt.timedelta(days=days),
                          now + dt.timedelta(days=MAX_DAYS))  # fmt: skip
    repository.add_event(
        session, copy.id, "operation",
        f"Expiry extended by {user.email} to {copy.expires_at:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    audit.record(
        session, "store.staging.extend", actor=user, target=f"store:{copy.id}",
        detail={"expires_at": copy.expires_at.isoformat()}, client_ip=client_ip,
    )  # fmt: skip
    return copy


def expire_due(session: Session, runtime: Runtime) -> list[int]:
    """Delete the staging copies whose time is up (no final backup: a copy's
    data is its live store's). Returns their ids."""
    rows = session.scalars(
        select(Store)
        .where(
            Store.staging_of_id.is_not(None),
            Store.expires_at < utcnow(),
            Store.desired == Desired.present.value,
        )
        .with_for_update()
    ).all()
    for copy in rows:
        copy.desired = Desired.absent.value
        copy.admin_password_enc = None
        set_phase(session, copy, Phase.deleting, "The staging copy expired")
        repository.add_operation(session, copy, Operation.delete, requested_by="expiry")
        service.request_work(session, runtime, copy)
    return [c.id for c in rows]
