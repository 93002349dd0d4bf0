"""JWT access tokens (HS256, with expiry) via PyJWT."""

from __future__ import annotations

import datetime as dt

import jwt

from storefleet.db import utcnow
from storefleet.exceptions import NotAuthenticated

_ALGORITHM = "HS256"
_AUDIENCE = "storefleet"


def issue(user_id: int, role: str, *, key: str, minutes: int) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "role": role,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def subject(token: str, *, key: str) -> int:
    """The user id in a valid token; 401 for anything expired, tampered or malformed."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("Token expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise NotAuthenticated("Invalid token") from exc
