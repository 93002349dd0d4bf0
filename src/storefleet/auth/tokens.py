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
import functools
import time
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
    """The claims of a valid token; 401 for anything expired, tampered or malformed.

    A request's token is checked twice (the rate limit counts by its user, and
    the endpoint's principal), and a client sends the same one many times: the
    signature's verdict is remembered (:func:`_verified`, a bounded LRU of
    good tokens only); the expiry is checked each time."""
    try:
        decoded = _verified(token, key)
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated("Invalid token") from exc
    # PyJWT's own rule (leeway 0): a token is expired from its exp on.
    if decoded["exp"] <= time.time():
        raise NotAuthenticated("Token expired; sign in again")
    return dict(decoded)


@functools.lru_cache(maxsize=4096)
def _verified(token: str, key: str) -> dict[str, Any]:
    """The claims of a well-formed token signed with ``key``, whatever its
    expiry (raises for anything else; a raise is not remembered)."""
    try:
        decoded: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub", "aud", "sid"], "verify_exp": False},
        )
        int(decoded["sub"])
        if not isinstance(decoded["sid"], str) or not isinstance(decoded["exp"], int | float):
            raise TypeError("sid or exp")
    except (ValueError, TypeError) as exc:
        raise jwt.InvalidTokenError(str(exc)) from exc
    return decoded
