"""What users may ask of a store that runs: a backup now, a restore from one
of its backups, suspend and resume — each allowed only in the phases the
lifecycle lets it start from and while nothing else is in flight, recorded
as an operation, audited, and handed to a worker once the request commits;
and the reconciler's scheduled backups."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth.models import User
from storefleet.backups import repository as backups
from storefleet.backups import service as backups_service
from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.exceptions import Conflict, NotFound
from storefleet.operations.lifecycle import OPERATION_PHASES
from storefleet.runtime import Runtime
from storefleet.stores import repository, service
from storefleet.stores.models import Desired, Operation, Phase, Store, StoreOperation


def request_operation(
    session: Session,
    runtime: Runtime,
    user: User,
    store: Store,
    kind: Operation,
    params: dict[str, object] | None = None,
    *,
    client_ip: str,
) -> StoreOperation:
    allowed = OPERATION_PHASES[kind].allowed_from
    if store.desired != Desired.present or store.phase not in allowed:
        raise Conflict(f"A store that is {store.phase} cannot be asked to {kind}")
    service.in_flight(session, store)
    op = repository.add_operation(session, store, kind, requested_by=user.email, params=params)
    repository.add_event(session, store.id, "operation", f"{kind} requested by {user.email}")
    audit.record(
        session, f"store.{kind}", actor=user, target=f"store:{store.id}",
        detail={k: v for k, v in (params or {}).items() if k != "source_backup"} or None,
        client_ip=client_ip,
    )  # fmt: skip
    service.request_work(session, runtime, store)
    return op


def take_backup(
    session: Session,
    runtime: Runtime,
    user: User,
    store_id: int,
    *,
    client_ip: str,
    kind: BackupKind = BackupKind.manual,
) -> Backup:
    """A backup now (``kind`` export: one to be exported, stores/moves.py)."""
    store = service.get_visible(session, user, store_id, for_update=True)
    backup = backups.create(session, store, kind, requested_by=user.email)
    op = request_operation(
        session, runtime, user, store, Operation.backup,
        {"backup_id": backup.id, **({"kind": kind.value} if kind != BackupKind.manual else {})},
        client_ip=client_ip,
    )  # fmt: skip
    backup.operation_id = op.id
    return backup


def schedule_backup(session: Session, runtime: Runtime, store: Store) -> Backup:
    """A scheduled backup (the reconciler's), recorded like a request."""
    backup = backups.create(session, store, BackupKind.scheduled, requested_by="schedule")
    op = repository.add_operation(
        session, store, Operation.backup, requested_by="schedule", params={"backup_id": backup.id}
    )
    backup.operation_id = op.id
    service.request_work(session, runtime, store)
    return backup


def restore(
    session: Session,
    runtime: Runtime,
    user: User,
    store_id: int,
    backup_id: int,
    *,
    client_ip: str,
) -> StoreOperation:
    store = service.get_visible(session, user, store_id, for_update=True)
    backup = backups.get(session, backup_id)
    if backup is None or backup.store_id != store.id:
        raise NotFound("Backup not found (a store is restored from its own backups)")
    if backup.status != BackupStatus.completed:
        raise Conflict(f"Backup {backup.id} is {backup.status}: only a completed backup restores")
    if store.phase == Phase.failed and store.ready_at is None:
        raise Conflict("This store never became ready: retry or delete it instead")
    return request_operation(
        session, runtime, user, store, Operation.restore, backups_service.restore_params(backup),
        client_ip=client_ip,
    )  # fmt: skip


def suspend(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> StoreOperation:
    store = service.get_visible(session, user, store_id, for_update=True)
    return request_operation(session, runtime, user, store, Operation.suspend, client_ip=client_ip)


def resume(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> StoreOperation:
    store = service.get_visible(session, user, store_id, for_update=True)
    return request_operation(session, runtime, user, store, Operation.resume, client_ip=client_ip)
