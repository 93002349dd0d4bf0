"""HTTP endpoints: sign-in, the current user, and user management (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from storefleet.auth import repository, service
from storefleet.auth.schemas import (
    LoginRequest,
    Me,
    Token,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from storefleet.deps import AdminUser, ClientIP, CurrentUser, Offset, RuntimeDep, SessionDep, UserId
from storefleet.exceptions import ERROR_RESPONSES, NotAuthenticated
from storefleet.metrics import LOGIN_FAILURES
from storefleet.stores import repository as stores_repository

router = APIRouter(prefix="/api", responses={401: ERROR_RESPONSES[401]})


@router.post(
    "/auth/login",
    response_model=Token,
    tags=["auth"],
    responses={429: ERROR_RESPONSES[429]},
)
def login(body: LoginRequest, session: SessionDep, runtime: RuntimeDep, ip: ClientIP) -> Token:
    try:
        token = service.login(
            session,
            runtime.throttle,
            runtime.settings,
            email=body.email,
            password=body.password,
            client_ip=ip,
        )
    except NotAuthenticated:
        LOGIN_FAILURES.inc()
        raise
    return Token(access_token=token, expires_in=runtime.settings.access_token_minutes * 60)


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
    responses={403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409]},
)
def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(service.create_user(session, body, actor=admin))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    tags=["users"],
    responses={403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404]},
)
def update_user(
    user_id: UserId, body: UserUpdate, admin: AdminUser, session: SessionDep
) -> UserOut:
    return UserOut.model_validate(service.update_user(session, user_id, body, actor=admin))
