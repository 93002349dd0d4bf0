"""Recording and listing audit events. Never record secrets here.

Every event carries the client address (``LOCAL`` for commands run on the
platform's own host). Refusals (a failed sign-in, a quota, a missing right)
are raised as errors that carry their :class:`Entry`; the error handler
records it with :func:`record_apart`, in a transaction of its own, so that it
survives the rollback of the request that was refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storefleet.audit.models import AuditEvent, AuditResult
from storefleet.auth.models import User
from storefleet.db import Database

#: The client address of commands run on the platform's host (CLI, bootstrap).
LOCAL = "local"


@dataclasses.dataclass(frozen=True)
class Entry:
    action: str
    client_ip: str
    actor_id: int | None = None
    actor_email: str | None = None
    target: str | None = None
    detail: dict[str, Any] | None = None
    result: AuditResult = AuditResult.success


def entry(
    action: str,
    *,
    client_ip: str,
    actor: User | None = None,
    actor_id: int | None = None,
    actor_email: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    result: AuditResult = AuditResult.success,
) -> Entry:
    return Entry(
        action=action,
        client_ip=client_ip[:64],
        actor_id=actor.id if actor else actor_id,
        actor_email=(actor.email if actor else actor_email or None),
        target=target,
        detail=detail,
        result=result,
    )


def refused(action: str, **kwargs: Any) -> Entry:
    """The entry of a refused request, to raise with the error that refuses it."""
    return entry(action, result=AuditResult.failure, **kwargs)


def add(session: Session, e: Entry) -> None:
    session.add(
        AuditEvent(
            action=e.action,
            result=e.result.value,
            actor_id=e.actor_id,
            actor_email=e.actor_email[:254] if e.actor_email else None,
            target=e.target[:128] if e.target else None,
            detail=e.detail,
            client_ip=e.client_ip,
        )
    )


def record(session: Session, action: str, *, client_ip: str, **kwargs: Any) -> None:
    """Record an event in the caller's transaction (it commits with the work)."""
    add(session, entry(action, client_ip=client_ip, **kwargs))


def record_apart(db: Database, e: Entry) -> None:
    """Record an event in a transaction of its own, whatever happens to the
    request's."""
    with db.transaction() as session:
        add(session, e)


def _filtered(
    q: Select[Any], *, actor: str | None, action: str | None, result: AuditResult | None
) -> Select[Any]:
    if actor:
        pattern = actor.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(func.lower(AuditEvent.actor_email).like(f"%{pattern}%", escape="\\"))
    if action:
        q = q.where(AuditEvent.action == action)
    if result is not None:
        q = q.where(AuditEvent.result == result.value)
    return q


def page(
    session: Session,
    *,
    limit: int,
    offset: int,
    actor: str | None = None,
    action: str | None = None,
    result: AuditResult | None = None,
) -> tuple[list[AuditEvent], int]:
    """Events newest first; ``actor`` matches part of the email, ``action``
    the whole action."""

    def where(q: Select[Any]) -> Select[Any]:
        return _filtered(q, actor=actor, action=action, result=result)

    total = session.scalar(where(select(func.count()).select_from(AuditEvent))) or 0
    rows = session.scalars(
        where(select(AuditEvent)).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
