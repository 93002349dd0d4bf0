"""What a running step sees of its store and operation: a snapshot of the
store (no secrets), the admin password decrypted on demand, facts it may
record on the store row, the store's timeline, and whether it must stop."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from storefleet.config import Settings
from storefleet.crypto import InvalidToken
from storefleet.domains.models import ROUTED, DomainStatus, StoreDomain
from storefleet.drivers.base import (
    DomainSnapshot,
    OperationInfo,
    PermanentError,
    StepContext,
    StoreSnapshot,
    TransientError,
)
from storefleet.operations.lease import Lease
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import Desired, Operation, Store


def snapshot_of(store: Store, *, with_domains: bool = False) -> StoreSnapshot:
    """What a driver may know of ``store``; ``with_domains``: its custom
    domains too (a query: what a step sees, not every store of a sweep)."""
    return StoreSnapshot(
        id=store.id,
        name=store.name,
        admin_email=store.admin_email,
        uid=store.uid,
        url=store.url,
        port=store.port,
        sample_products=store.sample_products,
        wordpress_version=store.wordpress_version,
        woocommerce_version=store.woocommerce_version,
        plan=store.plan,
        standby=store.standby,
        domains=_domains(store) if with_domains else (),
    )


def _domains(store: Store) -> tuple[DomainSnapshot, ...]:
    session = object_session(store)
    if session is None:
        return ()
    rows = session.scalars(
        select(StoreDomain)
        .where(StoreDomain.store_id == store.id, StoreDomain.status.in_(_SNAPSHOT_DOMAINS))
        .order_by(StoreDomain.id)
    ).all()
    return tuple(
        DomainSnapshot(
            name=d.name,
            primary=d.is_primary,
            routed=d.status in ROUTED,
            active=d.status == DomainStatus.active,
        )
        for d in rows
    )


#: The domains a driver hears of: routed ones, and those being removed.
_SNAPSHOT_DOMAINS = [s.value for s in (*ROUTED, DomainStatus.removing)]


#: What a step may record on the store row.
_RECORDABLE = {"url", "admin_url", "port", "wordpress_version", "woocommerce_version", "plan"}


class OperationContext(StepContext):
    """A running step's view of its store and operation (see StepContext)."""

    @dataclasses.dataclass(frozen=True)
    class Start:
        """What a step starts with, read when it was marked running."""

        snapshot: StoreSnapshot
        info: OperationInfo
        deadline_at: dt.datetime | None

    def __init__(
        self,
        runtime: Runtime,
        store: StoreSnapshot,
        lease: Lease,
        operation: OperationInfo,
        deadline: float,
        workdir: Path,
    ) -> None:
        super().__init__(store, deadline, operation, workdir)
        self._runtime = runtime
        self._lease = lease
        self._checked_at = 0.0
        self._stop = False

    def admin_password(self) -> str:
        with self._runtime.db.transaction(write=False) as session:
            store = session.get(Store, self.store.id)
            token = store.admin_password_enc if store else None
        if token is None:
            raise PermanentError(
                "the admin password is no longer held by the platform; delete the store "
                "and create it again"
            )
        try:
            return self._runtime.box.open(token)
        except InvalidToken as exc:
            raise PermanentError(
                "the admin password cannot be decrypted (was STOREFLEET_SECRET_KEY changed?)"
            ) from exc

    def record(self, **fields: object) -> None:
        if not set(fields) <= _RECORDABLE:
            raise ValueError(f"a driver may only record {sorted(_RECORDABLE)}")
        try:
            with self._runtime.db.transaction() as session:
                store = repository.get(session, self.store.id, for_update=True)
                if store is None:
                    raise LookupError(f"store {self.store.id} does not exist")
                for key, value in fields.items():
                    setattr(store, key, value)
        except IntegrityError as exc:
            raise TransientError(
                f"could not record {sorted(fields)}: taken by another store"
            ) from exc
        known = {k: v for k, v in fields.items() if k in StoreSnapshot.__dataclass_fields__}
        self.store = dataclasses.replace(self.store, **known)  # type: ignore[arg-type]

    def event(self, message: str, level: str = "info") -> None:
        with self._runtime.db.transaction() as session:
            repository.add_event(session, self.store.id, "note", message, level)

    def should_stop(self) -> bool:
        if self._lease.lost.is_set():
            return True
        # Deletion preempts every other operation at its next step.
        if self.operation.kind != Operation.delete and time.monotonic() - self._checked_at > 2:
            self._checked_at = time.monotonic()
            with self._runtime.db.transaction(write=False) as session:
                store = session.get(Store, self.store.id)
                self._stop = store is None or store.desired != Desired.present
        return self._stop


def workdir(settings: Settings, op_id: int) -> Path:
    """The operation's scratch directory (see StepContext.workdir)."""
    return settings.work_path / str(op_id)
