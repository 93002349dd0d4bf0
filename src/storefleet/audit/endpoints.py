"""The audit log, for admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from storefleet.audit import service
from storefleet.deps import AdminUser, Offset, SessionDep
from storefleet.exceptions import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/audit",
    tags=["audit"],
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    target: str | None
    detail: dict[str, Any] | None
    client_ip: str | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    total: int


@router.get("", response_model=AuditPage)
def list_audit_events(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    rows, total = service.page(session, limit=limit, offset=offset)
    return AuditPage(items=[AuditEventOut.model_validate(r) for r in rows], total=total)
