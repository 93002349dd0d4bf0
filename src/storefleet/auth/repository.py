"""Queries on users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet.auth.models import Role, User


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def by_id(session: Session, user_id: int, *, for_update: bool = False) -> User | None:
    q = select(User).where(User.id == user_id)
    if for_update:
        q = q.with_for_update()
    return session.scalar(q)


def lock_active_admins(session: Session) -> list[int]:
    """The ids of the active admins, locked until the transaction ends (on
    SQLite the write transaction already excludes other writers), so that two
    admins demoting each other at once cannot both see the other remain."""
    q = select(User.id).where(User.role == Role.admin.value, User.is_active.is_(True))
    return list(session.scalars(q.with_for_update()).all())


def page(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return list(rows), total
