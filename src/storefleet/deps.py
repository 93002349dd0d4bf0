"""FastAPI dependencies, as ``Annotated`` aliases: the runtime, the request's
database session (one transaction per request), the client's address and the
signed-in user (a bearer token, or the dashboard's session cookie with its
CSRF header)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import cookies, tokens
from storefleet.auth import service as auth_service
from storefleet.auth.models import User
from storefleet.exceptions import Forbidden, NotAuthenticated
from storefleet.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    # A request that may write takes the write lock up front on SQLite (on the
    # server databases this is a no-op), so that its reads and writes cannot
    # interleave with another writer's.
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    with runtime.db.transaction(write=writes) as session:
        yield session


# scope="function": the transaction commits (and the queue hears of it) before
# the response is sent, so a 202 means the store is durably recorded.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str:
    """The client's address: the peer, or the client a trusted proxy names
    (uvicorn applies X-Forwarded-For from STOREFLEET_TRUSTED_PROXIES only)."""
    return request.client.host if request.client else "unknown"


ClientIP = Annotated[str, Depends(client_ip)]

_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    key = runtime.settings.signing_key()
    if credentials is not None and credentials.scheme.lower() == "bearer":
        # A browser never sends a bearer token by itself: no CSRF to fear.
        return auth_service.user_for_token(session, credentials.credentials, key=key)
    token = cookies.session_token(request)
    if token is None:
        raise NotAuthenticated("Not signed in")
    claims = tokens.claims(token, key=key)
    if request.method not in cookies.SAFE_METHODS and not cookies.csrf_matches(request, claims):
        raise Forbidden(
            "The CSRF token is missing or wrong; reload the page",
            audit=audit.refused(
                "auth.csrf_refused",
                actor_id=int(claims["sub"]),
                target=f"{request.method} {request.url.path}",
                client_ip=ip,
            ),
        )
    return auth_service.active_user(session, int(claims["sub"]))


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser, request: Request, ip: ClientIP) -> User:
    if not user.is_admin:
        raise Forbidden(
            "Only an admin may do this",
            audit=audit.refused(
                "access.denied",
                actor=user,
                target=f"{request.method} {request.url.path}",
                client_ip=ip,
            ),
        )
    return user


AdminUser = Annotated[User, Depends(get_admin)]


# Ids and offsets are bounded: an out-of-range integer is a 422, not a database error.
_MAX_ID = 2_147_483_647
StoreId = Annotated[int, Path(ge=1, le=_MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=_MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=_MAX_ID)]
