"""HTTP endpoints of webhooks (the scheme: docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from storefleet.deps import ClientIP, CurrentUser, RuntimeDep, SessionDep
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.webhooks import service
from storefleet.webhooks.schemas import (
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPage,
)

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)

WebhookId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "A bad URL (or one that resolves to a private address)"}},
)
def create_webhook(
    body: WebhookCreate, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> WebhookCreated:
    """Register a URL for events of your stores (admins: ``fleet_wide`` for
    every store's). ``secret`` signs each delivery's
    ``X-StoreFleet-Signature``; it is in this answer only."""
    hook, secret = service.create(
        session, user, body, box=runtime.box,
        allow_private=runtime.settings.webhooks_allow_private_networks, client_ip=ip,
    )  # fmt: skip
    return WebhookCreated(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.get("", response_model=WebhookPage)
def list_webhooks(user: CurrentUser, session: SessionDep) -> WebhookPage:
    return WebhookPage(items=[WebhookOut.model_validate(h) for h in service.mine(session, user)])


@router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: ERROR_RESPONSES[404]}
)
def delete_webhook(
    webhook_id: WebhookId, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> None:
    """Remove a webhook; its deliveries still waiting are dropped."""
    service.delete(session, user, webhook_id, client_ip=ip)


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryPage, responses={404: ERROR_RESPONSES[404]}
)
def list_webhook_deliveries(
    webhook_id: WebhookId,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The webhook's deliveries, newest first, each with its attempts: the
    status code, the first KiB of the answer or the error."""
    hook = service.get_own(session, user, webhook_id)
    return DeliveryPage(items=service.deliveries(session, hook, limit=limit))
