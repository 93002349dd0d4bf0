"""The dashboard's session cookies.

``sf_session`` holds the access token: HttpOnly (no page script can read it),
SameSite=Strict (no other site's page sends it), Secure and ``__Host-``
prefixed when served over https (no subdomain, e.g. a store, can set or
shadow it). ``sf_csrf`` holds the token's ``csrf`` claim for the dashboard's
script to send back in ``X-CSRF-Token`` (double submit, checked against the
signed claim, not against the cookie).
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

SESSION = "sf_session"
CSRF = "sf_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _secure(conn: HTTPConnection) -> bool:
    # The scheme the client used, once X-Forwarded-Proto of a trusted proxy is applied.
    return conn.url.scheme == "https"


def _name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base


def session_token(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(_name(SESSION, _secure(conn))) or None


def csrf_matches(conn: HTTPConnection, claims: dict[str, Any]) -> bool:
    expected = claims.get("csrf")
    sent = conn.headers.get(CSRF_HEADER, "")
    return isinstance(expected, str) and bool(sent) and hmac.compare_digest(expected, sent)


def set_session(
    response: Response, conn: HTTPConnection, token: str, csrf: str, seconds: int
) -> None:
    secure = _secure(conn)
    response.set_cookie(
        _name(SESSION, secure), token, max_age=seconds, path="/", secure=secure,
        httponly=True, samesite="strict",
    )  # fmt: skip
    response.set_cookie(
        _name(CSRF, secure), csrf, max_age=seconds, path="/", secure=secure,
        httponly=False, samesite="strict",
    )  # fmt: skip


def clear_session(response: Response, conn: HTTPConnection) -> None:
    secure = _secure(conn)
    for base, httponly in ((SESSION, True), (CSRF, False)):
        response.delete_cookie(
            _name(base, secure), path="/", secure=secure, httponly=httponly, samesite="strict"
        )
