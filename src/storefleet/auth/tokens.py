"""JWT access tokens (HS256, with expiry) via PyJWT.

The same token serves API clients (``Authorization: Bearer``) and the
dashboard, where it lives in an HttpOnly session cookie and carries a ``csrf``
claim: a cookie-authenticated request that changes something must send that
value in ``X-CSRF-Token``, which a page on another site cannot read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt

from storefleet.db import utcnow
from storefleet.exceptions import NotAuthenticated

_ALGORITHM = "HS256"
_AUDIENCE = "storefleet"


def issue(user_id: int, role: str, *, key: str, minutes: int, csrf: str | None = None) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
    }
    if csrf is not None:
        claims["csrf"] = csrf
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def claims(token: str, *, key: str) -> dict[str, Any]:
    """The claims of a valid token; 401 for anything expired, tampered or malformed."""
    try:
        decoded: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        int(decoded["sub"])
        return decoded
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("Token expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise NotAuthenticated("Invalid token") from exc


def subject(token: str, *, key: str) -> int:
    """The user id in a valid token; 401 for anything expired, tampered or malformed."""
    return int(claims(token, key=key)["sub"])
