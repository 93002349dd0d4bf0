"""Queries on users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet.auth.models import User


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def page(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return list(rows), total
