"""Personal access tokens: made, listed and revoked by their owner (what
each scope grants: ``auth/access.py``). The secret is returned once; only its
SHA-256 is kept."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth.access import ADMIN_SCOPES, TOKEN_PREFIX, hash_token
from storefleet.auth.models import ApiToken, User
from storefleet.auth.schemas import TokenCreate
from storefleet.db import utcnow
from storefleet.exceptions import InvalidInput, NotFound

#: Tokens a user may hold at once (revoked and expired ones do not count).
MAX_TOKENS = 50


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        [{"loc": ["body", field], "field": field, "msg": f"{field}: {message}",
          "type": "value_error"}]
    )  # fmt: skip


def create(
    session: Session, user: User, data: TokenCreate, *, client_ip: str
) -> tuple[ApiToken, str]:
    now = utcnow()
    wanted = sorted({s.value for s in data.scopes})
    if not user.is_admin and ADMIN_SCOPES & set(data.scopes):
        raise _invalid("scopes", "admin and metrics are for admins' tokens only")
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise _invalid("expires_at", "give a time zone (e.g. 2027-01-31T00:00:00Z)")
        if data.expires_at <= now:
            raise _invalid("expires_at", "must be in the future")
    live = [t for t in mine(session, user) if t.revoked_at is None and not _expired(t)]
    if len(live) >= MAX_TOKENS:
        raise _invalid("name", f"you hold {MAX_TOKENS} tokens already; revoke one first")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=data.name, token_hash=hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6], scopes=wanted, created_at=now,
        expires_at=data.expires_at,
    )  # fmt: skip
    session.add(token)
    session.flush()
    audit.record(
        session, "token.create", actor=user, target=f"token:{token.id}",
        detail={"name": data.name, "scopes": wanted}, client_ip=client_ip,
    )  # fmt: skip
    return token, secret


def _expired(token: ApiToken) -> bool:
    return token.expires_at is not None and token.expires_at <= utcnow()


def mine(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        ).all()
    )


def revoke(session: Session, user: User, token_id: int, *, client_ip: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("Token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session, "token.revoke", actor=user, target=f"token:{token.id}",
            detail={"name": token.name}, client_ip=client_ip,
        )  # fmt: skip
    return token
