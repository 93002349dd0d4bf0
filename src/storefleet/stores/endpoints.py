"""HTTP endpoints of the stores API (see DESIGN.md, "Interfaces that others
rely on")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from storefleet.deps import ClientIP, CurrentUser, Offset, RuntimeDep, SessionDep, StoreId
from storefleet.drivers.local.mailbox import read_mailbox
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.stores import repository, service
from storefleet.stores.models import Phase
from storefleet.stores.schemas import (
    EventOut,
    MailOut,
    MailPage,
    StoreCreate,
    StoreCreated,
    StoreDetail,
    StorePage,
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
def list_stores(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    status: Annotated[Phase | None, Query(description="Only stores in this phase")] = None,
    include_deleted: bool = False,
    owner_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="Admins only: one owner's stores")
    ] = None,
) -> StorePage:
    """Stores the user may see, newest first (admins see every store)."""
    owner = owner_id if user.is_admin else user.id
    q = repository.visible(owner, include_deleted, status)
    rows, total = repository.page(session, q, limit=limit, offset=offset)
    return StorePage(items=service.list_out(session, rows), total=total, limit=limit, offset=offset)


@router.get("/{store_id}", response_model=StoreDetail)
def get_store(store_id: StoreId, user: CurrentUser, session: SessionDep) -> StoreDetail:
    return service.detail_out(session, service.get_visible(session, user, store_id))


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
    if store.driver != "local":
        return MailPage(delivery="smtp", items=[])
    messages = read_mailbox(runtime.settings, store.uid, limit=limit)
    return MailPage(delivery="mailbox", items=[MailOut(**vars(m)) for m in messages])


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
    return service.detail_out(session, store)


@router.delete(
    "/{store_id}",
    response_model=StoreDetail,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def delete_store(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> StoreDetail:
    """Delete a store in any phase; in-flight provisioning stops and is cleaned up."""
    store = service.delete(session, runtime, user, store_id, client_ip=ip)
    return service.detail_out(session, store)
