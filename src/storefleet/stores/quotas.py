"""A member's quotas on creating stores (live stores, creations per hour)
and the name check every new store passes: creation, imports, staging."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth.models import User
from storefleet.config import Settings
from storefleet.db import utcnow
from storefleet.exceptions import Conflict, TooManyRequests
from storefleet.stores import repository

_HOUR = dt.timedelta(hours=1)


def _limit(user: User, own: int | None, default: int) -> int:
    return own if own is not None else default


def _quota_refusal(
    message: str, user: User, client_ip: str, name: str, retry_after: float, quota: str
) -> TooManyRequests:
    return TooManyRequests(
        message,
        retry_after=retry_after,
        audit=audit.refused(
            "store.create", actor=user, target=f"store-name:{name}", client_ip=client_ip,
            detail={"refused": quota},
        ),
    )  # fmt: skip


def check(session: Session, settings: Settings, user: User, name: str, client_ip: str) -> None:
    """Refuse (429) a member over their live-store quota or creation rate."""
    # Serialise creations by one user (SQLite: the request already holds the
    # write lock), so that concurrent requests cannot all pass the quota check.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    if user.is_admin:
        return  # admins run the platform and are not limited
    max_live = _limit(user, user.max_live_stores, settings.max_live_stores)
    if repository.count_live(session, user.id) >= max_live:
        # Waiting alone frees nothing; a minute is when a deletion may have.
        raise _quota_refusal(
            f"Quota reached: at most {max_live} live stores per user. "
            "Delete a store or ask an admin to raise your quota.",
            user, client_ip, name, 60, "live stores",
        )  # fmt: skip
    max_hour = _limit(user, user.max_creations_per_hour, settings.max_creations_per_hour)
    now = utcnow()
    since = now - _HOUR
    if repository.count_created_since(session, user.id, since) >= max_hour:
        oldest = repository.oldest_created_since(session, user.id, since)
        free_at = (oldest or now) + _HOUR
        raise _quota_refusal(
            f"Rate limit reached: at most {max_hour} store creations per user per hour.",
            user, client_ip, name, (free_at - now).total_seconds(), "creations per hour",
        )  # fmt: skip


def admit(session: Session, settings: Settings, user: User, name: str, client_ip: str) -> None:
    """Refuse a store ``user`` asks for over their quotas (429) or under a
    name another live store has (409)."""
    check(session, settings, user, name, client_ip)
    if repository.by_live_name(session, name) is not None:
        raise Conflict(f"The name {name!r} is taken by another store")
