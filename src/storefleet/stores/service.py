"""What users may do with stores: create (or clone a backup), look, retry,
delete, and the day-2 operations: back up, restore, suspend, resume.

Each function runs inside the caller's transaction and only flushes; the work
itself is recorded as a ``StoreOperation`` and handed to a worker by putting
the store id on the queue once the transaction has committed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet import drivers, plans
from storefleet.audit import service as audit
from storefleet.auth import passwords
from storefleet.auth.models import User
from storefleet.backups import repository as backups
from storefleet.backups import service as backups_service
from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.config import Settings
from storefleet.db import after_commit, utcnow
from storefleet.drivers import MailMessage
from storefleet.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from storefleet.names import new_store_uid
from storefleet.operations.lifecycle import OPERATION_PHASES, set_phase
from storefleet.releases import targets as platform_releases
from storefleet.runtime import Runtime
from storefleet.stores import pool, repository
from storefleet.stores.models import (
    Desired,
    Operation,
    OperationStatus,
    Phase,
    Store,
    StoreOperation,
    StoreStep,
)
from storefleet.stores.quotas import admit
from storefleet.stores.schemas import (
    OperationOut,
    Progress,
    StepOut,
    StoreCreate,
    StoreDetail,
    StoreOut,
    status_of,
)


def request_work(session: Session, runtime: Runtime, store: Store) -> None:
    """Ask a worker to look at ``store`` once this transaction commits."""
    store.enqueued_at = utcnow()
    queue = runtime.queue
    store_id = store.id
    after_commit(session, lambda: queue.enqueue_store(store_id))


def create(
    session: Session,
    runtime: Runtime,
    user: User,
    data: StoreCreate,
    *,
    client_ip: str,
) -> tuple[Store, str | None]:
    """Record a new store (phase ``pending``) and queue its provisioning.

    Returns the store and the admin password when one was generated."""
    settings = runtime.settings
    admit(session, settings, user, data.name, client_ip)
    password, generated = admin_password(data)
    pins = platform_releases.current(session)
    source: Backup | None = None
    if data.source_backup_id is None and settings.warm_pool_size > 0:
        plan = pick_plan(settings, user, data.plan)
        adopted = pool.adopt(session, runtime, user, data, password, plan, pins, client_ip)
        if adopted is not None:
            request_work(session, runtime, adopted)
            return adopted, generated
    if data.source_backup_id is not None:
        source = _cloneable_backup(session, user, data.source_backup_id)
        pins = {
            "wordpress": source.wordpress_version or pins["wordpress"],
            "woocommerce": source.woocommerce_version or pins["woocommerce"],
        }
    store = new_store(session, runtime, user, data, password, pins=pins)
    params: dict[str, object] = {}
    detail: dict[str, object] = {"name": store.name}
    if source is not None:
        params = backups_service.restore_params(source)
        detail["source_backup_id"] = source.id
    repository.add_operation(
        session, store, Operation.provision, requested_by=user.email, params=params
    )
    repository.add_event(
        session, store.id, "phase",
        f"Store requested by {user.email}"
        + (f", cloned from backup {source.id}" if source is not None else ""),
    )  # fmt: skip
    audit.record(
        session,
        "store.create",
        actor=user,
        target=f"store:{store.id}",
        detail=detail,
        client_ip=client_ip,
    )
    request_work(session, runtime, store)
    return store, generated


def admin_password(data: StoreCreate) -> tuple[str, str | None]:
    """The store admin's password, and the same when it was generated (to
    be shown once)."""
    if data.admin_password is not None:
        return data.admin_password, None
    generated = passwords.generate_password()
    return generated, generated


def new_store(
    session: Session,
    runtime: Runtime,
    user: User,
    data: StoreCreate,
    password: str,
    *,
    pins: dict[str, str],
    owner: User | None = None,
) -> Store:
    """The row of a store ``user`` asks for (``owner``'s, default the
    user's), pending, once :func:`admit` let it in; flushed, with no
    operation yet."""
    settings = runtime.settings
    owner = owner or user
    store = Store(
        owner_id=owner.id,
        owner=owner,
        name=data.name,
        uid=new_store_uid(),
        live_name=data.name,
        sample_products=data.sample_products,
        plan=pick_plan(settings, user, data.plan),
        wordpress_version=pins["wordpress"],
        woocommerce_version=pins["woocommerce"],
        driver=settings.driver.value,
        desired=Desired.present.value,
        phase=Phase.pending.value,
        admin_email=str(data.admin_email),
        admin_password_enc=runtime.box.seal(password),
    )
    session.add(store)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The name {data.name!r} is taken by another store") from exc
    return store


def _cloneable_backup(session: Session, user: User, backup_id: int) -> Backup:
    backup = backups.get(session, backup_id)
    owner = repository.get(session, backup.store_id) if backup else None
    if backup is None or owner is None or (not user.is_admin and owner.owner_id != user.id):
        raise NotFound("Backup not found")
    if backup.status != BackupStatus.completed:
        raise Conflict(f"Backup {backup.id} is {backup.status}, not completed: it cannot be cloned")
    return backup


def mail(runtime: Runtime, store: Store, *, limit: int) -> tuple[str, list[MailMessage]]:
    """How the store's mail is delivered, and what of it the platform keeps."""
    return drivers.store_mail(runtime.settings, store.driver, store.uid, limit=limit)


def get_visible(session: Session, user: User, store_id: int, *, for_update: bool = False) -> Store:
    """The store if ``user`` may see it; 404 otherwise (never 403, so that
    members cannot probe for other members' store ids)."""
    store = repository.get(session, store_id, for_update=for_update)
    if store is None or store.standby or (not user.is_admin and store.owner_id != user.id):
        raise NotFound("Store not found")
    return store


def in_flight(session: Session, store: Store) -> None:
    """409 while another operation is queued or running on the store."""
    active = repository.active_operations(session, store.id)
    if active:
        op = active[0]
        raise Conflict(
            f"Another operation is in flight on this store ({op.kind} {op.id}, {op.status}); "
            "try again when it has finished"
        )


def retry(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> Store:
    """Run a failed store's failed operation (provision, delete or restore)
    again; its steps that succeeded are kept."""
    store = get_visible(session, user, store_id, for_update=True)
    if store.phase != Phase.failed:
        raise Conflict(f"Only a failed store can be retried; this one is {store.phase}")
    deleting = store.desired == Desired.absent
    kinds = (
        [Operation.delete]
        if deleting
        else [Operation.provision, Operation.adopt, Operation.restore]
    )
    failed = next(
        (o for o in repository.operations(session, store.id, limit=20, kinds=kinds)
         if o.status == OperationStatus.failed),
        None,
    )  # fmt: skip
    if failed is not None:
        _rebind_backup(
            session, repository.rerun(session, store, failed, requested_by=f"retry by {user.email}")
        )
        phase = OPERATION_PHASES[Operation(failed.kind)].running
    else:
        phase = Phase.deleting if deleting else Phase.provisioning
    store.failure_reason = None
    store.operation_deadline_at = None
    message = f"Retry requested by {user.email}"
    if phase is not None:
        set_phase(session, store, phase, message)
    else:
        repository.add_event(session, store.id, "operation", message)
    audit.record(
        session, "store.retry", actor=user, target=f"store:{store.id}", client_ip=client_ip
    )
    request_work(session, runtime, store)
    return store


def delete(
    session: Session,
    runtime: Runtime,
    user: User,
    store_id: int,
    *,
    final_backup: bool = True,
    client_ip: str,
) -> Store:
    """Ask for the store to be removed. Allowed in every phase: an operation
    in flight stops at its next step and then the store is cleaned up. A store
    that was ever ready is backed up first (kept final_backup_days), unless
    ``final_backup`` is false."""
    store = get_visible(session, user, store_id, for_update=True)
    if store.phase == Phase.deleted:
        raise Conflict("This store has already been deleted")
    active = next(
        (o for o in repository.active_operations(session, store.id) if o.kind == Operation.delete),
        None,
    )
    if store.phase == Phase.deleting and store.desired == Desired.absent and active is not None:
        return store
    failed_delete = None
    was_ready = store.ready_at is not None
    if store.phase == Phase.failed and store.desired == Desired.absent:
        failed_delete = repository.latest_operation(session, store.id, Operation.delete)
    store.desired = Desired.absent.value
    if store.phase != Phase.deleting:
        set_phase(session, store, Phase.deleting, f"Deletion requested by {user.email}")
    else:
        repository.add_event(session, store.id, "phase", f"Deletion requested by {user.email}")
    store.failure_reason = None
    store.operation_deadline_at = None
    store.admin_password_enc = None
    if failed_delete is not None and failed_delete.status == OperationStatus.failed:
        op = repository.rerun(session, store, failed_delete, requested_by=user.email)
        if not final_backup and op.params.get("backup_id"):
            _drop_final_backup(session, op)
        _rebind_backup(session, op)
    elif active is None:
        params: dict[str, object] = {}
        final = None
        if final_backup and was_ready:
            expires = utcnow() + dt.timedelta(days=runtime.settings.final_backup_days)
            final = backups.create(
                session, store, BackupKind.final, requested_by=user.email, expires_at=expires
            )
            params["backup_id"] = final.id
        op = repository.add_operation(
            session, store, Operation.delete, requested_by=user.email, params=params
        )
        if final is not None:
            final.operation_id = op.id
    audit.record(
        session, "store.delete", actor=user, target=f"store:{store.id}",
        detail={"final_backup": final_backup}, client_ip=client_ip,
    )  # fmt: skip
    request_work(session, runtime, store)
    return store


def _rebind_backup(session: Session, op: StoreOperation) -> None:
    """The backup a re-run operation takes is the failed one's, taken again."""
    backup_id = op.params.get("backup_id")
    backup = session.get(Backup, backup_id) if isinstance(backup_id, int) else None
    if backup is not None and backup.status == BackupStatus.failed and backup.operation_id:
        backup.operation_id = op.id
        backup.status = BackupStatus.pending.value
        backup.failure_reason = None


def _drop_final_backup(session: Session, op: StoreOperation) -> None:
    backup_id = op.params.get("backup_id")
    op.params = {k: v for k, v in op.params.items() if k != "backup_id"}
    for step in repository.operation_steps(session, op.id):
        if step.name.startswith("backup-"):
            session.delete(step)
    backup = session.get(Backup, backup_id) if isinstance(backup_id, int) else None
    if backup is not None and backup.status == BackupStatus.pending:
        backup.status = BackupStatus.failed.value
        backup.failure_reason = "skipped: deletion without a final backup was asked for"


def pick_plan(settings: Settings, user: User, wanted: str | None) -> str:
    """The plan a store gets: the one asked for, if it exists and the user
    may pick it (members: STOREFLEET_MEMBER_PLANS), else the default."""
    name = wanted or settings.default_plan
    try:
        plans.find(settings.plan_list, name)
    except plans.UnknownPlan as exc:
        raise InvalidInput(f"plan: {exc}") from exc
    if not user.is_admin and name not in settings.member_plans:
        raise Forbidden(
            f"Plan {name!r} is for admins to give; members may pick "
            + ", ".join(settings.member_plans)
        )
    return name


def update_settings(
    session: Session,
    runtime: Runtime,
    user: User,
    store_id: int,
    changes: dict[str, object],
    *,
    client_ip: str,
) -> tuple[Store, bool]:
    """Change what ``changes`` names; a new plan is applied by a resize
    operation. Returns the store and whether a resize was asked for."""
    store = get_visible(session, user, store_id, for_update=True)
    detail: dict[str, object] = {}
    if "backup_schedule_hours" in changes:
        store.backup_schedule_hours = changes["backup_schedule_hours"]  # type: ignore[assignment]
        detail["backup_schedule_hours"] = store.backup_schedule_hours
    resize = False
    wanted = changes.get("plan")
    if isinstance(wanted, str) and wanted != store.plan:
        plan = pick_plan(runtime.settings, user, wanted)
        from storefleet.stores import day2

        day2.request_operation(
            session, runtime, user, store, Operation.resize, {"plan": plan}, client_ip=client_ip
        )
        detail["plan"] = {"from": store.plan, "to": plan}
        resize = True
    if detail:
        audit.record(
            session, "store.settings", actor=user, target=f"store:{store.id}",
            detail=detail, client_ip=client_ip,
        )  # fmt: skip
    return store, resize


def _progress(done_total: tuple[int, int] | None) -> Progress:
    done, total = done_total or (0, 0)
    return Progress(done=done, total=total)


def to_out(store: Store, progress: tuple[int, int] | None) -> StoreOut:
    return StoreOut(
        id=store.id,
        name=store.name,
        uid=store.uid,
        status=status_of(store.phase),
        url=store.url,
        admin_url=store.admin_url,
        admin_email=store.admin_email,
        owner_id=store.owner_id,
        owner_email=store.owner.email if store.owner is not None else "",
        driver=store.driver,
        created_at=store.created_at,
        updated_at=store.updated_at,
        ready_at=store.ready_at,
        deleted_at=store.deleted_at,
        failure_reason=store.failure_reason,
        current_step=store.current_step,
        current_operation=Operation(store.operation) if store.operation else None,
        progress=_progress(progress),
        sample_products=store.sample_products,
        plan=store.plan,
        wordpress_version=store.wordpress_version,
        woocommerce_version=store.woocommerce_version,
        staging_of_id=store.staging_of_id,
        expires_at=store.expires_at,
    )


def list_out(session: Session, stores: list[Store]) -> list[StoreOut]:
    progress = repository.progress(session, stores)
    return [to_out(s, progress.get(s.id)) for s in stores]


def detail_out(session: Session, store: Store, settings_default: float = 24.0) -> StoreDetail:
    lifecycle = repository.lifecycle_operations(session, store.id, limit=20)
    shown = {max((o.id for o in lifecycle if o.kind == k), default=0) for k in Operation}
    if store.operation_id is not None:
        shown.add(store.operation_id)
    by_op = repository.steps_of(session, sorted(i for i in shown if i))
    steps: list[StoreStep] = [st for op_id in sorted(by_op) for st in by_op[op_id]]
    # The progress (repository.progress's, for one store) from the steps at hand.
    current = store.operation_id or max((o.id for o in lifecycle), default=None)
    progress = None
    if current is not None:
        done = sum(st.status in ("succeeded", "skipped") for st in by_op.get(current, []))
        progress = (done, len(by_op.get(current, [])))
    out = to_out(store, progress)
    own = store.backup_schedule_hours
    return StoreDetail(
        **out.model_dump(),
        steps=[StepOut.model_validate(s) for s in steps],
        backup_schedule_hours=own if own is not None else settings_default,
        backup_schedule_is_default=own is None,
    )


def operations_out(session: Session, store: Store, limit: int = 50) -> list[OperationOut]:
    ops = repository.operations(session, store.id, limit=limit)
    steps = repository.steps_of(session, [o.id for o in ops])
    return [
        OperationOut(
            id=o.id,
            kind=Operation(o.kind),
            status=OperationStatus(o.status),
            requested_by=o.requested_by,
            params={k: v for k, v in (o.params or {}).items() if k != "source_backup"},
            created_at=o.created_at,
            started_at=o.started_at,
            finished_at=o.finished_at,
            duration_seconds=o.duration_seconds,
            failure_reason=o.failure_reason,
            fleet_upgrade_id=o.fleet_upgrade_id,
            steps=[StepOut.model_validate(st) for st in steps.get(o.id, [])],
        )
        for o in ops
    ]
