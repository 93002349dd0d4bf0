"""HTTP endpoints: signing in (a bearer token for API clients, a session
cookie for the dashboard), the current user, and user management (admins)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from storefleet.auth import cookies, repository, service
from storefleet.auth.schemas import (
    LoginRequest,
    Me,
    SessionOut,
    Token,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from storefleet.deps import AdminUser, ClientIP, CurrentUser, Offset, RuntimeDep, SessionDep, UserId
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.stores import repository as stores_repository

router = APIRouter(prefix="/api", responses={401: ERROR_RESPONSES[401]})

_SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    429: ERROR_RESPONSES[429],
    503: ERROR_RESPONSES[503],
}


# Signing in opens no request transaction (no SessionDep): the password check
# takes a while and must not hold the database's write lock meanwhile.
@router.post("/auth/login", response_model=Token, tags=["auth"], responses=_SIGN_IN_ERRORS)
def login(body: LoginRequest, runtime: RuntimeDep, ip: ClientIP) -> Token:
    """Sign in as an API client: a bearer token for the Authorization header."""
    token = service.login(runtime, email=body.email, password=body.password, client_ip=ip)
    return Token(access_token=token, expires_in=runtime.settings.access_token_minutes * 60)


@router.post("/auth/session", response_model=SessionOut, tags=["auth"], responses=_SIGN_IN_ERRORS)
def create_session(
    body: LoginRequest, request: Request, response: Response, runtime: RuntimeDep, ip: ClientIP
) -> SessionOut:
    """Sign in as the dashboard: the token goes into an HttpOnly, SameSite=Strict
    cookie that page script cannot read; requests that change something must
    send ``csrf_token`` as ``X-CSRF-Token``."""
    csrf = secrets.token_urlsafe(32)
    token = service.login(
        runtime, email=body.email, password=body.password, client_ip=ip, csrf=csrf
    )
    seconds = runtime.settings.access_token_minutes * 60
    cookies.set_session(response, request, token, csrf, seconds)
    return SessionOut(csrf_token=csrf, expires_in=seconds)


@router.delete("/auth/session", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def delete_session(request: Request, response: Response) -> None:
    """Sign out of the dashboard: the session cookies are removed."""
    cookies.clear_session(response, request)


@router.get("/auth/me", response_model=Me, tags=["auth"])
def me(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> Me:
    s = runtime.settings
    return Me(
        **UserOut.model_validate(user).model_dump(),
        live_stores=stores_repository.count_live(session, user.id),
        effective_max_live_stores=(
            user.max_live_stores if user.max_live_stores is not None else s.max_live_stores
        ),
        effective_max_creations_per_hour=(
            user.max_creations_per_hour
            if user.max_creations_per_hour is not None
            else s.max_creations_per_hour
        ),
    )


@router.get(
    "/users", response_model=UserPage, tags=["users"], responses={403: ERROR_RESPONSES[403]}
)
def list_users(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> UserPage:
    rows, total = repository.page(session, limit=limit, offset=offset)
    return UserPage(items=[UserOut.model_validate(u) for u in rows], total=total)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    responses={403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409], 503: ERROR_RESPONSES[503]},
)
def create_user(
    body: UserCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> UserOut:
    user = service.create_user(session, body, actor=admin, client_ip=ip, checks=runtime.passwords)
    return UserOut.model_validate(user)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    tags=["users"],
    responses={
        403: ERROR_RESPONSES[403],
        404: ERROR_RESPONSES[404],
        409: ERROR_RESPONSES[409],
        429: ERROR_RESPONSES[429],
        503: ERROR_RESPONSES[503],
    },
)
def update_user(
    user_id: UserId,
    body: UserUpdate,
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> UserOut:
    """Change a user. The last active admin cannot be deactivated or demoted
    (409), nor can an admin deactivate itself; changing one's own password
    needs ``current_password`` (403 without it or when it is wrong)."""
    user = service.update_user(session, runtime, user_id, body, actor=admin, client_ip=ip)
    return UserOut.model_validate(user)
