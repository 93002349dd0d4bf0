"""HTTP endpoints of a store's custom domains (docs/domains.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from storefleet.deps import ClientIP, CurrentUser, RuntimeDep, SessionDep, StoreId
from storefleet.domains import service
from storefleet.domains.schemas import DomainCreate, DomainOut
from storefleet.exceptions import ERROR_RESPONSES, InvalidInput
from storefleet.names import normalize_domain

router = APIRouter(
    prefix="/api/stores/{store_id}/domains",
    tags=["stores"],
    responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]},
)

DomainName = Annotated[str, Path(max_length=254, description="The domain")]


@router.get("", response_model=list[DomainOut])
def list_domains(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[DomainOut]:
    """The store's custom domains, oldest first, each with the TXT record
    that proves it the merchant's and where it stands."""
    return service.listed(session, runtime, user, store_id)


@router.post(
    "",
    response_model=DomainOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DomainOut, "description": "The store holds it already: looked up again"},
        409: ERROR_RESPONSES[409],
    },
)
def add_domain(
    store_id: StoreId,
    body: DomainCreate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    response: Response,
) -> DomainOut:
    """Add a domain. Put the TXT record of ``verification`` in its DNS zone:
    once the platform sees it, the domain is routed to the store, gets its
    certificate (ACME, HTTP-01: point the domain's A/AAAA records at the
    platform's stores) and, when ``primary``, becomes the store's address.
    409: another store holds it."""
    store, domain, created = service.add(session, runtime, user, store_id, body, client_ip=ip)
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.to_out(runtime, store, domain)


@router.delete(
    "/{domain}",
    response_model=DomainOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def remove_domain(
    store_id: StoreId,
    domain: DomainName,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> DomainOut:
    """Remove a domain: the store stops answering at it (its address moves
    back to its own when it was there) and its name is free again."""
    try:
        name = normalize_domain(domain)
    except ValueError as exc:
        raise InvalidInput(f"domain: {exc}") from exc
    store, removed = service.remove(session, runtime, user, store_id, name, client_ip=ip)
    return service.to_out(runtime, store, removed)
