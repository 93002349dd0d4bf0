"""The audit log, for admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from storefleet.audit import service
from storefleet.audit.models import AuditResult
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
    result: AuditResult
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
    actor: Annotated[
        str | None, Query(max_length=254, description="Part of the actor's email")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="The action, e.g. auth.login_failed")
    ] = None,
    result: Annotated[AuditResult | None, Query(description="Allowed or refused")] = None,
) -> AuditPage:
    """Audit events, newest first, optionally filtered."""
    rows, total = service.page(
        session, limit=limit, offset=offset, actor=actor, action=action, result=result
    )
    return AuditPage(items=[AuditEventOut.model_validate(r) for r in rows], total=total)
