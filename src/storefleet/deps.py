"""FastAPI dependencies, as ``Annotated`` aliases: the runtime, the request's
database session (one transaction per request) and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

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

_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("Not signed in")
    return auth_service.user_for_token(
        session, credentials.credentials, key=runtime.settings.signing_key()
    )


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only an admin may do this")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientIP = Annotated[str, Depends(client_ip)]


# Ids and offsets are bounded: an out-of-range integer is a 422, not a database error.
_MAX_ID = 2_147_483_647
StoreId = Annotated[int, Path(ge=1, le=_MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=_MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=_MAX_ID)]
