"""Signing in, and managing users."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import passwords, repository, tokens
from storefleet.auth.models import Role, User
from storefleet.auth.schemas import UserCreate, UserUpdate
from storefleet.auth.throttle import LoginThrottle
from storefleet.config import Settings
from storefleet.exceptions import Conflict, NotAuthenticated, NotFound


def active_user(session: Session, user_id: int) -> User:
    """The user behind a valid token, if the account still exists and is active."""
    user = repository.by_id(session, user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("This account no longer exists or is disabled")
    return user


def user_for_token(session: Session, token: str, *, key: str) -> User:
    return active_user(session, tokens.subject(token, key=key))


def login(
    session: Session,
    throttle: LoginThrottle,
    settings: Settings,
    *,
    email: str,
    password: str,
    client_ip: str,
) -> str:
    throttle.check(email, client_ip)
    user = repository.by_email(session, email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        throttle.failed(email, client_ip)
        audit.record(session, "auth.login_failed", actor_email=email[:254], client_ip=client_ip)
        raise NotAuthenticated("Incorrect email or password")
    throttle.succeeded(email)
    audit.record(session, "auth.login", actor=user, client_ip=client_ip)
    return tokens.issue(
        user.id, user.role, key=settings.signing_key(), minutes=settings.access_token_minutes
    )


def create_user(session: Session, data: UserCreate, *, actor: User | None = None) -> User:
    if repository.by_email(session, data.email) is not None:
        raise Conflict(f"A user with the email {data.email} already exists")
    user = User(
        email=data.email.lower(),
        password_hash=passwords.hash_password(data.password),
        role=data.role.value,
        max_live_stores=data.max_live_stores,
        max_creations_per_hour=data.max_creations_per_hour,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with the email {data.email} already exists") from exc
    audit.record(
        session, "user.create", actor=actor, target=f"user:{user.id}", detail={"role": user.role}
    )
    return user


def update_user(session: Session, user_id: int, data: UserUpdate, *, actor: User) -> User:
    user = repository.by_id(session, user_id)
    if user is None:
        raise NotFound("User not found")
    # Quotas may be set to null (back to the platform default); the other
    # fields are left alone when null.
    changes = data.model_dump(exclude_unset=True, mode="json")
    if data.password is not None:
        user.password_hash = passwords.hash_password(data.password)
        changes["password"] = "changed"
    if data.is_active is not None:
        user.is_active = data.is_active
    if data.role is not None:
        user.role = data.role.value
    for field in ("max_live_stores", "max_creations_per_hour"):
        if field in data.model_fields_set:
            setattr(user, field, getattr(data, field))
    audit.record(session, "user.update", actor=actor, target=f"user:{user.id}", detail=changes)
    return user


def ensure_admin(session: Session, email: str, password: str | None) -> str | None:
    """Create the first admin when there is none. Returns the password when one
    was generated (shown once by the caller), else None."""
    existing = repository.by_email(session, email)
    if existing is not None:
        if password is not None:
            existing.password_hash = passwords.hash_password(password)
        return None
    generated = None
    if password is None:
        password = generated = passwords.generate_password()
    session.add(
        User(email=email.lower(), password_hash=passwords.hash_password(password), role=Role.admin)
    )
    audit.record(
        session, "user.create", actor_email="system", target=email, detail={"role": "admin"}
    )
    return generated
