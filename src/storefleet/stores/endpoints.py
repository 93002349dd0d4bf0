"""HTTP endpoints of the stores API (the interfaces others rely on are listed
in docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from storefleet.auth.models import User
from storefleet.backups import repository as backups_repository
from storefleet.backups.schemas import BackupOut, BackupPage
from storefleet.deps import ClientIP, CurrentUser, Offset, RuntimeDep, SessionDep, StoreId
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.runtime import Runtime
from storefleet.stores import day2, listing, logs, repository, service
from storefleet.stores.models import Store
from storefleet.stores.schemas import (
    EventOut,
    LogLineOut,
    LogPage,
    LogSourceName,
    MailOut,
    MailPage,
    OperationOut,
    RestoreRequest,
    StoreCreate,
    StoreCreated,
    StoreDetail,
    StorePage,
    StoreSettingsUpdate,
    StoreSort,
    StoreStatus,
)

router = APIRouter(
    prefix="/api/stores",
    tags=["stores"],
    responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]},
)


@router.post(
    "",
    response_model=StoreCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409], 429: ERROR_RESPONSES[429]},
)
def create_store(
    body: StoreCreate, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> StoreCreated:
    """Create a store. Provisioning runs in the background: watch ``status``.

    When no ``admin_password`` is given one is generated and returned here,
    once; it is never shown again."""
    store, generated = service.create(session, runtime, user, body, client_ip=ip)
    out = service.to_out(store, None)
    return StoreCreated(**out.model_dump(), admin_password=generated)


@router.get("", response_model=StorePage)
async def list_stores(
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=400, description="The previous page's next_cursor")
    ] = None,
    sort: Annotated[StoreSort, Query(description="The order; '-': descending")] = StoreSort.newest,
    status: Annotated[StoreStatus | None, Query(description="Only stores in this phase")] = None,
    include_deleted: bool = False,
    owner_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="Admins only: one owner's stores")
    ] = None,
    name_prefix: Annotated[
        str | None, Query(min_length=1, max_length=40, description="Names starting with this")
    ] = None,
) -> StorePage:
    """Stores the user may see (admins see every store), newest first unless
    ``sort`` says otherwise, a page at a time: follow ``next_cursor``."""
    # A read: in place on SQLite, in a thread on a server (Database.read).
    return await runtime.db.read(
        listing.page, session, user, limit=limit, cursor=cursor, sort=sort, status=status,
        include_deleted=include_deleted, owner_id=owner_id, name_prefix=name_prefix,
    )  # fmt: skip


@router.get("/{store_id}", response_model=StoreDetail)
async def get_store(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> StoreDetail:
    # A read: in place on SQLite, in a thread on a server (Database.read).
    return await runtime.db.read(_visible_detail, session, runtime, user, store_id)


def _visible_detail(session: Session, runtime: Runtime, user: User, store_id: int) -> StoreDetail:
    return _detail(session, runtime, service.get_visible(session, user, store_id))


def _detail(session: Session, runtime: Runtime, store: Store) -> StoreDetail:
    return service.detail_out(session, store, runtime.settings.backup_schedule_hours)


@router.patch(
    "/{store_id}",
    response_model=StoreDetail,
    responses={
        202: {"model": StoreDetail, "description": "A new plan: a resize operation runs"},
        403: ERROR_RESPONSES[403],
        409: ERROR_RESPONSES[409],
    },
)
def update_store(
    store_id: StoreId,
    body: StoreSettingsUpdate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    response: Response,
) -> StoreDetail:
    """Change a store's settings: its backup schedule, and its plan (202: a
    ``resize`` operation applies it, as any operation: watch the store)."""
    changes = body.model_dump(include=body.model_fields_set)
    store, resizing = service.update_settings(
        session, runtime, user, store_id, changes, client_ip=ip
    )
    if resizing:
        response.status_code = status.HTTP_202_ACCEPTED
    return _detail(session, runtime, store)


@router.get("/{store_id}/operations", response_model=list[OperationOut])
def store_operations(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OperationOut]:
    """Everything done to the store, newest first, with each operation's steps."""
    store = service.get_visible(session, user, store_id)
    return service.operations_out(session, store, limit=limit)


@router.get("/{store_id}/backups", response_model=BackupPage)
def list_backups(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> BackupPage:
    """The store's backups, newest first (expired ones stay listed as such)."""
    service.get_visible(session, user, store_id)
    rows, total = backups_repository.for_store(session, store_id, limit=limit, offset=offset)
    return BackupPage(items=[BackupOut.model_validate(b) for b in rows], total=total)


@router.post(
    "/{store_id}/backups",
    response_model=BackupOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def create_backup(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> BackupOut:
    """Take a backup now: the database from one consistent snapshot and the
    store's own files, encrypted, in the platform's backup target."""
    backup = day2.take_backup(session, runtime, user, store_id, client_ip=ip)
    return BackupOut.model_validate(backup)


@router.post(
    "/{store_id}/restore",
    response_model=OperationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def restore_store(
    store_id: StoreId,
    body: RestoreRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> OperationOut:
    """Put one of the store's backups back: its database and files, at the
    releases it was taken on. Refused if the backup's digest does not match."""
    op = day2.restore(session, runtime, user, store_id, body.backup_id, client_ip=ip)
    return _operation(session, op.store_id, op.id)


@router.post(
    "/{store_id}/suspend",
    response_model=OperationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def suspend_store(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> OperationOut:
    """Stop the store, keeping all its data; its address answers “store
    unavailable”. It still counts toward the live-store quota."""
    op = day2.suspend(session, runtime, user, store_id, client_ip=ip)
    return _operation(session, op.store_id, op.id)


@router.post(
    "/{store_id}/resume",
    response_model=OperationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def resume_store(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> OperationOut:
    """Bring a suspended store back."""
    op = day2.resume(session, runtime, user, store_id, client_ip=ip)
    return _operation(session, op.store_id, op.id)


def _operation(session: Session, store_id: int, op_id: int) -> OperationOut:
    store = repository.get(session, store_id)
    if store is None:
        raise LookupError(store_id)
    return next(o for o in service.operations_out(session, store, limit=200) if o.id == op_id)


@router.get("/{store_id}/events", response_model=list[EventOut])
def store_events(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    after_id: Annotated[
        int, Query(ge=0, le=2_147_483_647, description="Only events newer than this id")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[EventOut]:
    service.get_visible(session, user, store_id)
    rows = repository.events(session, store_id, after_id=after_id, limit=limit)
    return [EventOut.model_validate(e) for e in rows]


@router.get("/{store_id}/mail", response_model=MailPage)
def store_mail(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MailPage:
    """The email the store sent (order notifications and others), newest first.

    Local stores keep their mail in a mailbox of their own, shown here; on
    Kubernetes stores send through the SMTP server the platform's chart
    configures, and this list stays empty."""
    store = service.get_visible(session, user, store_id)
    delivery, messages = service.mail(runtime, store, limit=limit)
    return MailPage(delivery=delivery, items=[MailOut(**vars(m)) for m in messages])


@router.get(
    "/{store_id}/logs",
    response_model=LogPage,
    responses={503: ERROR_RESPONSES[503]},
)
def store_logs(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    source: Annotated[
        LogSourceName,
        Query(
            description="php: PHP's errors (and the serving processes' messages); "
            "access: the web server's access log"
        ),
    ] = "php",
    since: Annotated[
        dt.datetime | None, Query(description="Only lines written at or after this time")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Only lines holding this, in any case")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> LogPage:
    """The store's log lines, newest first: its own lines only, with
    cookies, credentials, tokens and query arguments' values redacted.

    Local stores' logs are rotated at ``STOREFLEET_STORE_LOG_MAX_MIB`` with
    one older file kept; a Kubernetes store's are what the cluster keeps of
    its pod's output, read by a worker (503 when none answers in time)."""
    page = logs.read(session, runtime, user, store_id, source=source, since=since, q=q, limit=limit)
    return LogPage(
        source=source,
        items=[LogLineOut(at=e.at, text=e.text) for e in page.entries],
        more=page.more,
        kept=page.kept,
    )


@router.post(
    "/{store_id}/retry",
    response_model=StoreDetail,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def retry_store(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> StoreDetail:
    """Run a failed store's operation again; steps that succeeded are kept."""
    store = service.retry(session, runtime, user, store_id, client_ip=ip)
    return _detail(session, runtime, store)


@router.delete(
    "/{store_id}",
    response_model=StoreDetail,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def delete_store(
    store_id: StoreId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    final_backup: Annotated[
        bool,
        Query(description="Back the store up first (kept for the platform's final_backup_days)"),
    ] = True,
) -> StoreDetail:
    """Delete a store in any phase; an operation in flight stops and the store
    is cleaned up. A store that was ever ready is backed up first."""
    store = service.delete(
        session, runtime, user, store_id, final_backup=final_backup, client_ip=ip
    )
    return _detail(session, runtime, store)
