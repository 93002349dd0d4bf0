"""Sign-in sessions: one row per sign-in, named in its JWT's ``sid``.

Signing out revokes the row; an admin's "revoke sessions", a password change
by an admin and a two-factor reset revoke all of a user's. Rows past their
expiry are removed when their user next signs in.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from storefleet.auth.models import User, UserSession
from storefleet.db import utcnow


def start(session: Session, user: User, *, kind: str, minutes: int, client_ip: str) -> str:
    now = utcnow()
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now)
    )
    sid = secrets.token_hex(16)
    session.add(
        UserSession(
            id=sid, user_id=user.id, kind=kind, created_at=now,
            expires_at=now + dt.timedelta(minutes=minutes), client_ip=client_ip[:64],
        )
    )  # fmt: skip
    return sid


def end(session: Session, sid: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == sid, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: int) -> int:
    """End every sign-in of a user; returns how many were still open."""
    now = utcnow()
    result = session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
