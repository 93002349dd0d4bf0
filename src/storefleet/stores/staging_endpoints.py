"""HTTP endpoints of staging copies (docs/staging.md): make one of a live
store, list them, push one into its live store, refresh it, extend it."""

from __future__ import annotations

from fastapi import APIRouter, status

from storefleet.deps import ClientIP, CurrentUser, RuntimeDep, SessionDep, StoreId
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.stores import service, staging
from storefleet.stores.endpoints import _operation
from storefleet.stores.schemas import (
    ExtendRequest,
    OperationOut,
    PushRequest,
    StagingCreate,
    StoreCreated,
    StoreOut,
)

router = APIRouter(
    prefix="/api/stores",
    tags=["staging"],
    responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]},
)


@router.post(
    "/{store_id}/staging",
    response_model=StoreCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409], 429: ERROR_RESPONSES[429]},
)
def create_staging(
    store_id: StoreId,
    body: StagingCreate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> StoreCreated:
    """Make a staging copy of a live store: a new store at its own address,
    cloned from a fresh backup, not indexed, its mail kept and never sent,
    only offline payment methods; deleted at ``expires_at`` unless extended.
    A generated admin password is returned here, once."""
    copy, generated = staging.create(
        session, runtime, user, store_id, name=body.name, days=body.days,
        admin_password=body.admin_password, client_ip=ip,
    )  # fmt: skip
    return StoreCreated(**service.to_out(copy, None).model_dump(), admin_password=generated)


@router.get("/{store_id}/staging", response_model=list[StoreOut])
def list_staging(store_id: StoreId, user: CurrentUser, session: SessionDep) -> list[StoreOut]:
    """The live store's staging copies, newest first."""
    return service.list_out(session, staging.copies(session, user, store_id))


@router.post(
    "/{store_id}/push",
    response_model=OperationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def push_staging(
    store_id: StoreId,
    body: PushRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> OperationOut:
    """Push this staging copy's files, database or both into its live store
    (the operation returned is the live store's). Live is backed up first;
    its orders, customers, order notes, stock, sessions and scheduled
    actions that arrived meanwhile are kept; a push that fails restores
    live from that backup."""
    op = staging.push(session, runtime, user, store_id, body.what, client_ip=ip)
    return _operation(session, op.store_id, op.id)


@router.post(
    "/{store_id}/refresh",
    response_model=OperationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def refresh_staging(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> OperationOut:
    """Make this staging copy again from a fresh backup of its live store
    (what was changed on the copy is replaced)."""
    op = staging.refresh(session, runtime, user, store_id, client_ip=ip)
    return _operation(session, op.store_id, op.id)


@router.post("/{store_id}/extend", response_model=StoreOut, responses={409: ERROR_RESPONSES[409]})
def extend_staging(
    store_id: StoreId, body: ExtendRequest, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> StoreOut:
    """Keep this staging copy ``days`` longer (at most 90 days from now)."""
    copy = staging.extend(session, user, store_id, body.days, client_ip=ip)
    return service.list_out(session, [copy])[0]
