"""Who a request acts as, and what it may do.

A request carries either a **sign-in** (the JWT of ``POST /api/auth/login``
or of the dashboard's session cookie, naming its ``auth_sessions`` row) or a
**personal access token** (``sfp_…``, made with ``POST /api/tokens``). Both
are checked with one database query that the request needed anyway to load
its user: the session row is joined to the user (signing out sets its
``revoked_at``), the token row is found by its SHA-256.

A sign-in may do everything its user may. A token may do what its scopes
grant, and never manage tokens, two-factor sign-in or sessions (a leaked
``read`` token must not be able to mint an ``admin`` one):

- ``read``: every ``GET`` the user may make: stores and their events,
  operations, backups and mail, the fleet's summary and releases,
  ``/api/auth/me``, webhooks and their deliveries;
- ``stores``: ``read``, and creating, changing, retrying and deleting
  stores, backups, restores, suspend and resume;
- ``webhooks``: ``read``, and creating and deleting webhooks;
- ``admin``: ``read``, ``stores``, ``webhooks`` and the admin-only endpoints
  (users, the audit log, fleet upgrades, fleet-wide webhooks, revoking
  sessions); an admin's tokens only, and only while the user is an admin;
- ``metrics``: ``GET /metrics`` and nothing else; an admin's tokens only.

Which scope an endpoint needs is decided here, from its first OpenAPI tag and
its method (:data:`NEEDS`), deny by default: an endpoint whose tag is not
listed answers no token at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from storefleet.auth import tokens
from storefleet.auth.models import ApiToken, User, UserSession
from storefleet.db import Database, utcnow
from storefleet.exceptions import NotAuthenticated

#: Every personal access token starts with this (secret scanners can find them).
TOKEN_PREFIX = "sfp_"
#: A token's last use is written at most this often.
TOUCH_EVERY = dt.timedelta(seconds=60)


class Scope(StrEnum):
    read = "read"
    stores = "stores"
    webhooks = "webhooks"
    admin = "admin"
    metrics = "metrics"


#: What each scope grants (see the module's table).
GRANTS: dict[Scope, frozenset[Scope]] = {
    Scope.read: frozenset({Scope.read}),
    Scope.stores: frozenset({Scope.read, Scope.stores}),
    Scope.webhooks: frozenset({Scope.read, Scope.webhooks}),
    Scope.admin: frozenset({Scope.read, Scope.stores, Scope.webhooks, Scope.admin}),
    Scope.metrics: frozenset({Scope.metrics}),
}
#: Scopes only an admin's token may hold.
ADMIN_SCOPES = frozenset({Scope.admin, Scope.metrics})

#: The scope a token needs, by an endpoint's first tag: (to read, to change).
#: None: sign-ins only. A tag missing here: sign-ins only.
NEEDS: dict[str, tuple[Scope | None, Scope | None]] = {
    "auth": (Scope.read, None),
    "stores": (Scope.read, Scope.stores),
    "fleet": (Scope.read, Scope.admin),
    "users": (Scope.admin, Scope.admin),
    "audit": (Scope.admin, Scope.admin),
    "webhooks": (Scope.read, Scope.webhooks),
    "metrics": (Scope.metrics, None),
    "tokens": (None, None),
    "two-factor": (None, None),
}

#: Endpoints (by operation id) an admin who must enrol in two-factor sign-in
#: may still use.
ENROLMENT_ROUTES = frozenset(
    {
        "me",
        "two_factor_status",
        "setup_two_factor",
        "confirm_two_factor",
        "logout",
        "delete_session",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def granted(scopes: list[str]) -> frozenset[Scope]:
    out: set[Scope] = set()
    for scope in Scope:
        if scope.value in scopes:
            out |= GRANTS[scope]
    return frozenset(out)


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: str | None = None
    token_id: int | None = None
    #: What a token may do (expanded); None for a sign-in.
    scopes: frozenset[Scope] | None = None
    #: An admin without two-factor sign-in while it is required: enrolment only.
    enrol_only: bool = False
    #: A token whose last use should be written now.
    touch: bool = False
    #: The sign-in's CSRF claim (a dashboard session).
    csrf: str | None = None

    @property
    def is_token(self) -> bool:
        return self.token_id is not None

    def allows(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, token: str, *, key: str, require_2fa: bool) -> Principal:
    """The principal behind a bearer token or session cookie; 401 for
    anything expired, revoked, tampered or malformed."""
    if token.startswith(TOKEN_PREFIX):
        principal = _api_token(session, token)
    else:
        principal = _sign_in(session, tokens.claims(token, key=key))
    user = principal.user
    if require_2fa and user.is_admin and not user.two_factor_enabled:
        principal = Principal(**{**principal.__dict__, "enrol_only": True})
    return principal


# Every authenticated request runs one of these two: built once (a statement
# built per call costs ~3x its execution on SQLite: its construction and its
# cache key; bench/api.py), the values bound at execution.
_SIGN_IN = (
    select(User, UserSession.revoked_at, UserSession.user_id)
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id == bindparam("sid"))
)
_API_TOKEN = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def _sign_in(session: Session, claims: dict[str, object]) -> Principal:
    sid = str(claims["sid"])
    row = session.execute(_SIGN_IN, {"sid": sid}).first()
    if row is None or row[2] != int(str(claims["sub"])):
        raise NotAuthenticated("This sign-in has ended; sign in again")
    user, revoked_at, _ = row
    if revoked_at is not None:
        raise NotAuthenticated("Signed out; sign in again")
    if not user.is_active:
        raise NotAuthenticated("This account no longer exists or is disabled")
    csrf = claims.get("csrf")
    return Principal(user=user, session_id=sid, csrf=csrf if isinstance(csrf, str) else None)


def _api_token(session: Session, token: str) -> Principal:
    row = session.execute(_API_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None:
        raise NotAuthenticated("Invalid token")
    api_token, user = row
    now = utcnow()
    if api_token.revoked_at is not None:
        raise NotAuthenticated("This API token was revoked")
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise NotAuthenticated("This API token expired")
    if not user.is_active:
        raise NotAuthenticated("This account no longer exists or is disabled")
    scopes = granted(list(api_token.scopes))
    if not user.is_admin:
        scopes -= ADMIN_SCOPES  # the user was demoted since the token was made
    last = api_token.last_used_at
    return Principal(
        user=user,
        token_id=api_token.id,
        scopes=scopes,
        touch=last is None or now - last >= TOUCH_EVERY,
    )


def touch(db: Database, token_id: int, client_ip: str) -> None:
    """Record a token's use: at most one write a minute per token (the
    condition keeps concurrent requests and API replicas to one)."""
    now = utcnow()
    with db.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .where((ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= now - TOUCH_EVERY))
            .values(last_used_at=now, last_used_ip=client_ip[:64])
        )


def needed_scope(tag: str | None, method: str) -> Scope | None:
    reads, changes = NEEDS.get(tag or "", (None, None))
    return reads if method in SAFE_METHODS else changes


def refusal(
    principal: Principal, *, tag: str | None, method: str, operation: str | None
) -> str | None:
    """Why the principal may not call this endpoint (by its tag, method and
    operation id), or None when it may."""
    if principal.enrol_only and operation not in ENROLMENT_ROUTES:
        return (
            "Two-factor sign-in is required for admins: set it up first "
            "(POST /api/auth/2fa/setup, or the dashboard's Two-factor page)"
        )
    if not principal.is_token:
        return None
    needed = needed_scope(tag, method)
    if needed is None:
        return "This endpoint needs a signed-in session; API tokens may not use it"
    if not principal.allows(needed):
        return f"This API token lacks the {needed.value} scope"
    return None
