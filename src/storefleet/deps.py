"""FastAPI dependencies, as ``Annotated`` aliases: the runtime, the request's
database session (one transaction per request), the client's address and the
principal and its user (a bearer sign-in or API token, or the dashboard's
session cookie with its CSRF header), refused unless it may call the
endpoint (``auth/access.py`` decides which scope each endpoint needs).

FastAPI runs a plain ``def`` dependency or endpoint in a worker thread: a
hop there and back that costs ~0.2 ms of CPU and two waits for the GIL, more
than a read itself (bench/api.py). So these dependencies are ``async def``:
the ones without I/O run on the event loop, and the session and the
principal's lookup go through ``Database.read`` and
``Database.request_transaction`` (in place on SQLite, in a thread on a
server database). An endpoint that only reads can do the same; any other
stays a plain ``def``, in a thread.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import access, cookies
from storefleet.auth.access import Principal
from storefleet.auth.models import User
from storefleet.db import after_commit
from storefleet.exceptions import Forbidden, NotAuthenticated
from storefleet.runtime import Runtime

log = logging.getLogger(__name__)
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


_OWN_TRANSACTIONS = "_storefleet_own_transactions"


def own_transactions(endpoint: _Endpoint) -> _Endpoint:
    """Mark an endpoint that does slow work (decrypting an upload, fetching a
    backup) and writes in short transactions of its own: its request's
    session only reads, and so never holds SQLite's write lock meanwhile."""
    setattr(endpoint, _OWN_TRANSACTIONS, True)
    return endpoint


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[Session]:
    # A request that may write takes the write lock up front on SQLite (on the
    # server databases this is a no-op), so that its reads and writes cannot
    # interleave with another writer's.
    route = request.scope.get("route")
    own = isinstance(route, APIRoute) and getattr(route.endpoint, _OWN_TRANSACTIONS, False)
    writes = request.method not in cookies.SAFE_METHODS and not own
    async with runtime.db.request_transaction(write=writes) as session:
        yield session


# scope="function": the transaction commits (and the queue hears of it) before
# the response is sent, so a 202 means the store is durably recorded.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def client_ip(request: Request) -> str:
    """The client's address: the peer, or the client a trusted proxy names
    (uvicorn applies X-Forwarded-For from STOREFLEET_TRUSTED_PROXIES only)."""
    return request.client.host if request.client else "unknown"


ClientIP = Annotated[str, Depends(client_ip)]

_bearer = HTTPBearer(auto_error=False)


def _credentials(request: Request, bearer: HTTPAuthorizationCredentials | None) -> str:
    if bearer is not None and bearer.scheme.lower() == "bearer":
        return bearer.credentials
    token = cookies.session_token(request)
    if token is None:
        raise NotAuthenticated("Not signed in")
    return token


def _route(request: Request) -> tuple[str | None, str | None]:
    """The endpoint's first tag and operation id (what its scope is decided by)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None, None
    return (str(route.tags[0]) if route.tags else None), route.name


async def get_principal(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who the request acts as, refused (401/403) unless it may call this
    endpoint: the token's scopes, a pending two-factor enrolment, the CSRF
    header of a cookie sign-in that changes something."""
    s = runtime.settings
    token = _credentials(request, bearer)
    principal = await runtime.db.read(
        access.authenticate, session, token, key=s.signing_key(),
        require_2fa=s.require_2fa_for_admins,
    )  # fmt: skip
    user = principal.user
    target = f"{request.method} {request.url.path}"
    # A browser never sends a bearer token (or an API token) by itself: no CSRF to fear.
    if bearer is None and request.method not in cookies.SAFE_METHODS:
        if not cookies.csrf_matches(request, {"csrf": principal.csrf}):
            raise Forbidden(
                "The CSRF token is missing or wrong; reload the page",
                audit=audit.refused("auth.csrf_refused", actor=user, target=target, client_ip=ip),
            )
    tag, operation = _route(request)
    why = access.refusal(principal, tag=tag, method=request.method, operation=operation)
    if why is not None:
        raise Forbidden(
            why,
            audit=audit.refused(
                "access.denied", actor=user, target=target, client_ip=ip,
                detail={"token": principal.token_id} if principal.is_token else None,
            ),
        )  # fmt: skip
    if principal.touch and principal.token_id is not None:
        token_id = principal.token_id
        after_commit(session, lambda: _touch(runtime, token_id, ip))
    request.state.principal = principal
    return principal


def _touch(runtime: Runtime, token_id: int, ip: str) -> None:
    try:
        access.touch(runtime.db, token_id, ip)
    except SQLAlchemyError:
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: PrincipalDep) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(principal: PrincipalDep, request: Request, ip: ClientIP) -> User:
    user = principal.user
    if not user.is_admin or not principal.allows(access.Scope.admin):
        raise Forbidden(
            "Only an admin may do this"
            if not user.is_admin
            else "This API token lacks the admin scope",
            audit=audit.refused(
                "access.denied",
                actor=user,
                target=f"{request.method} {request.url.path}",
                client_ip=ip,
            ),
        )
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def _trusted(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in networks)


def require_metrics_reader(
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """``/metrics``: a trusted address (STOREFLEET_METRICS_TRUSTED_NETWORKS),
    or an API token with the metrics scope; 401 without credentials, 403
    with others."""
    s = runtime.settings
    if _trusted(ip, s.metrics_trusted_networks):
        return
    if bearer is None or bearer.scheme.lower() != "bearer":
        raise NotAuthenticated(
            "Reading /metrics needs an API token with the metrics scope "
            "(Authorization: Bearer), or a trusted address"
        )
    principal = access.authenticate(
        session, bearer.credentials, key=s.signing_key(), require_2fa=s.require_2fa_for_admins
    )
    if principal.token_id is None or not principal.allows(access.Scope.metrics):
        raise Forbidden("Reading /metrics needs an API token with the metrics scope")
    if principal.touch:
        token_id = principal.token_id
        after_commit(session, lambda: _touch(runtime, token_id, ip))


MetricsReader = Depends(require_metrics_reader)


# Ids and offsets are bounded: an out-of-range integer is a 422, not a database error.
_MAX_ID = 2_147_483_647
StoreId = Annotated[int, Path(ge=1, le=_MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=_MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=_MAX_ID)]
