"""Recording and listing audit events. Never record secrets here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet.audit.models import AuditEvent
from storefleet.auth.models import User


def record(
    session: Session,
    action: str,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    client_ip: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor.id if actor else None,
            actor_email=actor.email if actor else actor_email,
            target=target,
            detail=detail,
            client_ip=client_ip,
        )
    )


def page(session: Session, *, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
