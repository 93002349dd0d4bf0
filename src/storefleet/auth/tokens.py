"""JWT access tokens (HS256, with expiry) via PyJWT.

The same token serves API clients (``Authorization: Bearer``) and the
dashboard, where it lives in an HttpOnly session cookie and carries a ``csrf``
claim: a cookie-authenticated request that changes something must send that
value in ``X-CSRF-Token``, which a page on another site cannot read.

``sid`` names the sign-in's ``auth_sessions`` row, which signing out revokes;
``enrol`` marks a sign-in that may only set up two-factor sign-in (an admin
without it while ``STOREFLEET_REQUIRE_2FA_FOR_ADMINS`` is on).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt

from storefleet.db import utcnow
from storefleet.exceptions import NotAuthenticated

_ALGORITHM = "HS256"
_AUDIENCE = "storefleet"


def issue(
    user_id: int,
    role: str,
    *,
    key: str,
    minutes: int,
    sid: str,
    csrf: str | None = None,
    enrol: bool = False,
) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": sid,
        "role": role,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
    }
    if csrf is not None:
        claims["csrf"] = csrf
    if enrol:
        claims["enrol"] = True
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def claims(token: str, *, key: str) -> dict[str, Any]:
    """The claims of a valid token; 401 for anything expired, tampered or malformed."""
    try:
        decoded: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub", "aud", "sid"]},
        )
        int(decoded["sub"])
        if not isinstance(decoded["sid"], str):
            raise TypeError("sid")
        return decoded
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("Token expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise NotAuthenticated("Invalid token") from exc
