"""Request and response bodies of the webhooks API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from storefleet.webhooks.models import DeliveryStatus, EventType


class WebhookCreate(BaseModel):
    url: Annotated[str, Field(min_length=8, max_length=2048)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
    #: Admins only: every store's events, not only your own stores'.
    fleet_wide: bool = False


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    url: str
    events: list[EventType]
    fleet_wide: bool
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    #: The signing secret, shown only in this answer (kept encrypted).
    secret: str


class WebhookPage(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: dt.datetime
    duration_ms: int | None
    status_code: int | None
    #: The receiver's answer, its first KiB.
    response: str | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    event: EventType
    store_id: int | None
    status: DeliveryStatus
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    finished_at: dt.datetime | None
    last_status_code: int | None
    #: The body sent (and signed).
    body: str
    tries: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
