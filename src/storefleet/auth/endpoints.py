"""HTTP endpoints: signing in (a bearer token for API clients, a session
cookie for the dashboard), the current user, and user management (admins)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import cookies, repository, service, sessions, tokens
from storefleet.auth.access import Principal
from storefleet.auth.schemas import (
    LoginRequest,
    Me,
    SessionOut,
    SessionsRevoked,
    Token,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from storefleet.config import Settings
from storefleet.deps import (
    AdminUser,
    ClientIP,
    Offset,
    PrincipalDep,
    RuntimeDep,
    SessionDep,
    UserId,
)
from storefleet.exceptions import ERROR_RESPONSES, Forbidden, NotAuthenticated, NotFound
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
    token = service.login(
        runtime, email=body.email, password=body.password, otp=body.otp, client_ip=ip
    )
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
        runtime, email=body.email, password=body.password, otp=body.otp, client_ip=ip, csrf=csrf
    )
    seconds = runtime.settings.access_token_minutes * 60
    cookies.set_session(response, request, token, csrf, seconds)
    return SessionOut(csrf_token=csrf, expires_in=seconds)


@router.delete("/auth/session", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def delete_session(
    request: Request, response: Response, session: SessionDep, runtime: RuntimeDep
) -> None:
    """Sign out of the dashboard: the session ends on the server (its token
    is refused from now on) and the session cookies are removed."""
    token = cookies.session_token(request)
    if token:
        try:
            claims = tokens.claims(token, key=runtime.settings.signing_key())
        except NotAuthenticated:
            claims = None  # expired or tampered: nothing to end
        if claims is not None:
            sessions.end(session, str(claims["sid"]))
    cookies.clear_session(response, request)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def logout(principal: PrincipalDep, session: SessionDep) -> None:
    """Sign out: this sign-in's token is refused from now on (an API token is
    revoked with ``DELETE /api/tokens/{id}`` instead)."""
    if principal.session_id is None:
        raise Forbidden("An API token cannot sign out; revoke it with DELETE /api/tokens/{id}")
    sessions.end(session, principal.session_id)


@router.get("/auth/me", response_model=Me, tags=["auth"])
async def me(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> Me:
    # A read: in place on SQLite, in a thread on a server (Database.read).
    return await runtime.db.read(_me, principal, session, runtime.settings)


def _me(principal: Principal, session: Session, s: Settings) -> Me:
    user = principal.user
    return Me(
        **UserOut.model_validate(user).model_dump(),
        two_factor_enabled=user.two_factor_enabled,
        two_factor_required=principal.enrol_only,
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
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


@router.post(
    "/users/{user_id}/revoke-sessions",
    response_model=SessionsRevoked,
    tags=["users"],
    responses={403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404]},
)
def revoke_sessions(
    user_id: UserId, admin: AdminUser, session: SessionDep, ip: ClientIP
) -> SessionsRevoked:
    """Sign a user out everywhere: every sign-in token of theirs is refused
    from now on (their API tokens are not touched)."""
    if repository.by_id(session, user_id) is None:
        raise NotFound("User not found")
    revoked = sessions.revoke_all(session, user_id)
    audit.record(
        session, "user.revoke_sessions", actor=admin, target=f"user:{user_id}",
        detail={"sessions": revoked}, client_ip=ip,
    )  # fmt: skip
    return SessionsRevoked(revoked=revoked)
